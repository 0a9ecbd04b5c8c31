--- tortuga — 3D microstructure analysis of battery electrodes: the library.
--   local tg = require "tortuga"
-- The public modules (tg.volume, tg.io, tg.generate, tg.measure, ...) are documented in their files
-- under lua/tortuga/; docs/ARCHITECTURE.md has the contract of names and conventions. The library never
-- requires an application: the tortuga host attaches tg.report, tg.cli, tg.kernel, tg.repl and tg.display
-- (app/lua/tortuga/app.lua).
local core = require "tortuga.core"

local tg = {
  version = core.version,
  _core = core,
}

--- Read or set the number of threads the engine uses; returns the current count.
function tg.threads(n)
  if n ~= nil and (math.type(n) ~= "integer" or n < 1) then
    error("tg.threads: expected a positive integer, got " .. tostring(n), 2)
  end
  return core.threads(n)
end

--- Turn the progress bar (stderr) on or off; it is on by default when stderr is a terminal.
function tg.progress(on)
  core.set_progress(on and true or false)
end
core.set_progress(core.isatty(2))

-- The library's modules, an explicit list: each must load, and a missing file is an error (require's), never
-- a silent gap in the API.
local modules = { "util", "json", "volume", "io", "generate", "measure", "filter", "segment", "transport",
                  "analysis", "describe" }
for _, name in ipairs(modules) do tg[name] = require("tortuga." .. name) end

return tg
