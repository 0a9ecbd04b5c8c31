-- LuaRocks rockspec: builds tortuga with its own CMake build (needs the Debian -dev packages of tools/setup.sh).
rockspec_format = "3.0"
package = "tortuga"
version = "scm-1"
source = { url = "git+file://." }
description = {
  summary = "3D microstructure analysis of battery electrodes: a C engine with a Lua 5.4 face",
  detailed = [[
    Volumes, TIFF stacks with calibration, a built-in composite-cathode generator, preprocessing, segmentation,
    geometry and transport descriptors of electrode microstructures.
  ]],
}
dependencies = { "lua >= 5.4, < 5.5", "luafilesystem", "lua-cjson" }
build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    CMAKE_INSTALL_PREFIX = "$(PREFIX)",
    TG_INSTALL_CMODDIR = "$(LIBDIR)",
    TG_INSTALL_LUADIR = "$(LUADIR)",
  },
}
