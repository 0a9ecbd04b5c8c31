--- tortuga.app — the applications on top of the library, and the names they give scripts.
--
-- The library (lua/tortuga/, `require "tortuga"`) is volumes, I/O, filters, segmentation, measures, transport,
-- tg.describe and tg.analysis; it never requires an application. The applications (app/) sit on it: the
-- tortuga host with its REPL (app/main.c, tortuga.repl), the Jupyter kernel (app/lkernel.c, tortuga.kernel),
-- the notebook runner (tortuga.notebook), the HTML report and gnuplot figures (tortuga.report) and the
-- `tortuga COMMAND` subcommands (tortuga.cli).
--
-- The names scripts use: inside the tortuga host (scripts, -e, the REPL, kernel cells, notebook cells,
-- subcommands) `require "tortuga"` returns the library table with the applications attached by M.attach:
--   tg.report   tortuga.report (tg.report.html, tg.report.plot)
--   tg.cli      tortuga.cli (tg.cli.parse_phases, ...)
--   tg.kernel   tortuga.kernel (tg.kernel.image, ...)
--   tg.repl     tortuga.repl (tg.repl.show, ...)
--   tg.display  show values: a display_data message in the kernel, a notebook output in `tortuga notebook run`,
--               else printed as the REPL prints them
-- The host does it by preloading "tortuga" with M.load (app/main.c), so the library file itself is unchanged
-- and stock lua5.4 (eval "$(tortuga --paths)") gets the library alone from `require "tortuga"`; there the
-- applications are required by name (`require "tortuga.report"`), or attached with
-- `local tg = require("tortuga.app").attach(require "tortuga")`.
local M = {}

--- The application modules attached as tg.<name>, in this order. Each must load: a missing file is an error.
M.modules = { "repl", "report", "cli", "kernel" }

--- Attach the applications' names to the library table tg (see the module doc); returns tg.
function M.attach(tg)
  for _, name in ipairs(M.modules) do tg[name] = require("tortuga." .. name) end
  if tg.display == nil then tg.display = tg.kernel.display end
  return tg
end

--- The host's loader of "tortuga" (package.preload): the library's own tortuga/init.lua, found on package.path
-- as require would find it, registered in package.loaded before the applications load (they require
-- "tortuga" themselves), then attached.
function M.load(name)
  name = name or "tortuga"
  local path, err = package.searchpath(name, package.path)
  if not path then error(string.format("module '%s' not found:%s", name, err), 2) end
  local tg = assert(loadfile(path))(name, path)
  package.loaded[name] = tg
  local ok, e = pcall(M.attach, tg)
  if not ok then
    package.loaded[name] = nil -- so the next require fails the same way, not with half of the names
    error(e, 0)
  end
  return tg
end

return M
