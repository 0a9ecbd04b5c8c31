--- bench/common.lua — what the benchmarks share: a monotonic wall clock, the ways they time a step, and the peak
-- memory of the process. Each bench/*.lua loads it beside itself:
--   local B = dofile((arg[0]:match("(.*)/") or ".") .. "/common.lua")
--
--   B.now()                 wall seconds from a monotonic clock (tg.analysis.clock: clock_gettime, no process
--                           started per reading, unlike `date +%s.%N`)
--   B.timed(f, ...)         --> seconds, f's results: one run
--   B.best_of(k, f)         --> the best of k runs (seconds), then the last run's results; a full garbage
--                           collection before each run, outside the timing
--   B.median_of(k, f)       --> the median of k runs (seconds), collected the same way
--   B.peak_mib()            --> the peak resident memory of this process so far, in MiB (VmHWM of
--                           /proc/self/status; 0 where there is no /proc)
--   B.cpu()                 CPU seconds of the process, all threads (os.clock)
local tg = require "tortuga"

local B = {}

B.now = tg.analysis.clock
B.cpu = os.clock

function B.timed(f, ...)
  local t0 = B.now()
  local r = table.pack(f(...))
  return B.now() - t0, table.unpack(r, 1, r.n)
end

function B.best_of(k, f)
  local best, r = math.huge, { n = 0 }
  for _ = 1, k do
    r = nil -- the last run's results are freed before the next run
    collectgarbage()
    local t0 = B.now()
    r = table.pack(f())
    best = math.min(best, B.now() - t0)
  end
  return best, table.unpack(r, 1, r.n)
end

function B.median_of(k, f)
  local t = {}
  for i = 1, k do
    collectgarbage()
    local t0 = B.now()
    f()
    t[i] = B.now() - t0
  end
  table.sort(t)
  return k % 2 == 1 and t[(k + 1) // 2] or 0.5 * (t[k // 2] + t[k // 2 + 1])
end

function B.peak_mib()
  local f = io.open("/proc/self/status")
  if not f then return 0 end
  local s = f:read("a")
  f:close()
  return (tonumber(s:match("VmHWM:%s*(%d+)")) or 0) / 1024
end

return B
