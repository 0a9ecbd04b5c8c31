--- tortuga.analysis.workflow — helpers of study scripts: the paper's measured values (the reference file when it is
-- found, else the numbers its text gives), a stopwatch for stage timings, and a monotonic clock. Part of
-- tg.analysis (the manual is lua/tortuga/analysis.lua).
--
--   workflow.paper_reference([script [, search]]) --> path | table, description
--   workflow.stopwatch([log]) --> sw: sw:time(stage, f, ...), sw.timings, sw:total()
--   workflow.clock() --> seconds of a monotonic wall clock
local core = require "tortuga.core"

local M = {}
local C = core.analysis

--- Seconds of a monotonic wall clock (for stage timings).
M.clock = C.clock

-- The values Minnmann et al. (2024) state in their text, for when the reference file is not beside the checkout
-- (the file ../shared/reference/minnmann2024-measured.json holds these and more, with their sources).
local PAPER_VALUES = {
  BM10 = { ise_d50 = "7.41 um", S_cam_ise = "0.11 m2/g", kappa_ion_exp = 15, discharge_capacity_0p1C = "92 mAh/g",
           cam_utilization_initial = 0.62, sigma_ion_eff = "0.05 mS/cm", sigma_ion_bulk = "2.0 mS/cm",
           cam_specific_surface = "0.5 m2/g" },
  BM03 = { ise_d50 = "4.93 um", S_cam_ise = "0.24 m2/g", kappa_ion_exp = 6, discharge_capacity_0p1C = "156 mAh/g",
           cam_utilization_initial = 0.77, sigma_ion_eff = "0.11 mS/cm", sigma_ion_bulk = "1.7 mS/cm",
           cam_specific_surface = "0.5 m2/g" },
  BM01 = { ise_d50 = "5.93 um", S_cam_ise = "0.24 m2/g", kappa_ion_exp = 6, discharge_capacity_0p1C = "152 mAh/g",
           cam_utilization_initial = 0.77, sigma_ion_bulk = "1.6 mS/cm", cam_specific_surface = "0.5 m2/g" },
}

--- The paper's measured values: the path of minnmann2024-measured.json when it is found (the environment's
-- TG_SHARED_DATA/../reference, ../shared/reference beside the working directory or beside `script`), else a
-- table of the values the paper's text gives. Returns value, description. search = false: the table, always.
function M.paper_reference(script, search)
  local candidates = {}
  if search == false then script = nil end
  local data = os.getenv("TG_SHARED_DATA")
  if data then candidates[#candidates + 1] = data .. "/../reference/minnmann2024-measured.json" end
  local here = script and script:match("^(.*)/[^/]*$")
  if here then candidates[#candidates + 1] = here .. "/../../shared/reference/minnmann2024-measured.json" end
  candidates[#candidates + 1] = "../shared/reference/minnmann2024-measured.json"
  if search == false then candidates = {} end
  for _, c in ipairs(candidates) do
    local f = io.open(c, "rb")
    if f then f:close() return c, c end
  end
  local copy = {}
  for name, v in pairs(PAPER_VALUES) do
    copy[name] = {}
    for k, x in pairs(v) do copy[name][k] = x end
  end
  return copy, "the paper's numbers built into tg.analysis"
end

--- A stopwatch for the stages of a workflow: sw:time(stage, f, ...) runs f and adds its wall time to the stage;
-- sw.timings = { {stage = ..., seconds = ...}, ... } in first-use order (what tg.report.html takes);
-- sw:total() is the sum; sw.log = function(stage, seconds) is called after each run when set.
function M.stopwatch(log)
  local sw = { timings = {}, log = log }
  function sw:time(stage, f, ...)
    local t0 = C.clock()
    local r = table.pack(f(...))
    local dt = C.clock() - t0
    local found
    for _, t in ipairs(self.timings) do
      if t.stage == stage then t.seconds = t.seconds + dt; found = true end
    end
    if not found then self.timings[#self.timings + 1] = { stage = stage, seconds = dt } end
    if self.log then self.log(stage, dt) end
    return table.unpack(r, 1, r.n)
  end
  function sw:total()
    local s = 0
    for _, t in ipairs(self.timings) do s = s + t.seconds end
    return s
  end
  return sw
end

return M
