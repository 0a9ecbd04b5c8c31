--- tortuga.kernelspec — `tortuga kernel install`: the kernelspec that makes Jupyter offer "tortuga (Lua 5.4)".
--
--   kernelspec.install({user =, ["sys-prefix"] =, prefix =, name =}, out, err) --> exit status
--       writes <base>/kernels/<name>/kernel.json (argv: this executable, "kernel", "-f", "{connection_file}";
--       interrupt_mode "message") and the 32x32 and 64x64 logos; base is $JUPYTER_DATA_DIR, else
--       $XDG_DATA_HOME/jupyter, else ~/.local/share/jupyter (--user, the default), $VIRTUAL_ENV / $CONDA_PREFIX
--       / /usr + /share/jupyter (--sys-prefix), or PREFIX/share/jupyter (--prefix)
--   kernelspec.logo_volume(n) --> the logo (a turtle seen from above) as an n x n label volume
-- The applications' C half (app/lkernel.c) is linked into the tortuga host; it is required when first used, so
-- this module loads in stock lua5.4 too (there only what needs it fails, naming tortuga.app.core).
local function wire() return require "tortuga.app.core" end
local json = require "tortuga.json"
local nbformat = require "tortuga.nbformat"

local M = {}

local function tg_lib() return require "tortuga" end
local write_file = nbformat.write_atomic

local function mkdir_p(dir)
  local lfs = require "lfs"
  local path = dir:sub(1, 1) == "/" and "" or "."
  for part in dir:gmatch("[^/]+") do
    path = path .. "/" .. part
    if lfs.attributes(path, "mode") ~= "directory" then
      local ok, err = lfs.mkdir(path)
      if not ok and lfs.attributes(path, "mode") ~= "directory" then return nil, path .. ": " .. tostring(err) end
    end
  end
  return true
end

-- The logo: a turtle seen from above, drawn in the unit square so any size renders the same shape.
function M.logo_volume(n)
  local tg = tg_lib()
  local v = tg.volume.new { n, n, 1, dtype = "u8" }
  local function inside(u, w, cu, cw, ru, rw) return ((u - cu) / ru) ^ 2 + ((w - cw) / rw) ^ 2 <= 1 end
  for y = 1, n do
    for x = 1, n do
      local u, w = (x - 0.5) / n * 2 - 1, (y - 0.5) / n * 2 - 1
      local label = 0
      if inside(u, w, 0.72, 0, 0.17, 0.15) or inside(u, w, -0.74, 0, 0.12, 0.07) then label = 3 end
      for _, p in ipairs({ { 0.42, 0.5 }, { 0.42, -0.5 }, { -0.42, 0.5 }, { -0.42, -0.5 } }) do
        if inside(u, w, p[1], p[2], 0.16, 0.16) then label = 3 end
      end
      local e = (u / 0.64) ^ 2 + (w / 0.52) ^ 2
      if e <= 1 then
        label = 1
        local r = math.sqrt(e)
        if (r > 0.42 and r < 0.56) or (r < 0.49 and math.abs(w) < 0.05) or (r > 0.49 and r < 0.9 and
            (math.abs(u) < 0.05 or math.abs(w - u * 0.8) < 0.05 or math.abs(w + u * 0.8) < 0.05)) then
          label = 2
        end
      end
      v:set(x, y, 1, label)
    end
  end
  return v
end

local LOGO_COLOURS = { [0] = { 255, 255, 255 }, [1] = { 64, 160, 96 }, [2] = { 24, 80, 48 }, [3] = { 150, 205, 120 } }

local function write_logo(path, n)
  local tg = tg_lib()
  return pcall(tg.io.write_png, path, M.logo_volume(n), { colormap = "labels", labels = LOGO_COLOURS })
end

local function data_dir_user()
  local d = os.getenv("JUPYTER_DATA_DIR")
  if d and d ~= "" then return d end
  local xdg = os.getenv("XDG_DATA_HOME")
  if xdg and xdg ~= "" then return xdg .. "/jupyter" end
  local home = os.getenv("HOME")
  if not home or home == "" then return nil, "HOME is not set; give --prefix DIR" end
  return home .. "/.local/share/jupyter"
end

function M.install(o, out, err)
  local chosen = (o.user and 1 or 0) + (o["sys-prefix"] and 1 or 0) + (o.prefix and 1 or 0)
  if chosen > 1 then
    err:write("tortuga kernel install: give one of --user, --sys-prefix, --prefix DIR\n")
    return 2
  end
  local base, why
  if o.prefix then base = o.prefix .. "/share/jupyter"
  elseif o["sys-prefix"] then
    local p = os.getenv("VIRTUAL_ENV") or os.getenv("CONDA_PREFIX")
    base = ((p and p ~= "") and p or "/usr") .. "/share/jupyter"
  else
    base, why = data_dir_user()
    if not base then
      err:write("tortuga kernel install: ", why, "\n")
      return 1
    end
  end
  local name = o.name or nbformat.NAME
  if not name:match("^[%w%._%-]+$") then
    err:write("tortuga kernel install: --name must be letters, digits, '.', '_' or '-', got '", name, "'\n")
    return 2
  end
  local exe = wire().exe()
  if not exe or not exe:match("tortuga[^/]*$") then
    err:write("tortuga kernel install: run it from the tortuga executable (this is ", tostring(exe), ")\n")
    return 1
  end
  local dir = base .. "/kernels/" .. name
  local ok, e = mkdir_p(dir)
  if not ok then
    err:write("tortuga kernel install: cannot create ", dir, ": ", e, "\n")
    return 1
  end
  local spec = {
    argv = { exe, "kernel", "-f", "{connection_file}" },
    display_name = nbformat.DISPLAY_NAME,
    language = "lua",
    interrupt_mode = "message",
    metadata = { debugger = false },
  }
  ok, e = write_file(dir .. "/kernel.json", (json.encode(spec, { indent = 2 })) .. "\n")
  if not ok then
    err:write("tortuga kernel install: cannot write ", dir, "/kernel.json: ", tostring(e), "\n")
    return 1
  end
  for _, n in ipairs({ 32, 64 }) do
    local path = string.format("%s/logo-%dx%d.png", dir, n, n)
    local lok, lerr = write_logo(path, n)
    if not lok then
      err:write("tortuga kernel install: cannot write ", path, ": ", tostring(lerr), "\n")
      return 1
    end
  end
  out:write("installed the kernelspec '", name, "' in ", dir, "\n")
  return 0
end

return M
