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

--- Read or set the memory budget of streamed operations (stacks larger than memory, processed slab by slab):
-- tg.memory("4GB"), tg.memory("512MiB"), tg.memory(2^31 bytes as an integer), tg.memory("default").
-- kB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB and K/M/G/T powers of 1024. The default is half of the physical
-- memory (or of the cgroup's limit when lower). Every streaming call also takes its own `memory = "..."` option.
-- Returns the budget in bytes, and true when it is the default.
function tg.memory(size)
  local ok, bytes, default = pcall(core.memory, size)
  if not ok then error(bytes, 2) end
  return bytes, default
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
