-- Loaded by busted before every spec (--helper): shared fixtures and asserts.
local say = require "say"
local assert = require "luassert"

local H = {}
_G.test_helper = H

--- A scratch directory under the build tree (TG_TEST_TMP), created on first use.
function H.tmpdir(sub)
  local base = os.getenv("TG_TEST_TMP") or "/tmp/tortuga-tests"
  local dir = sub and (base .. "/" .. sub) or base
  os.execute("mkdir -p '" .. dir .. "'")
  return dir
end

--- A data file: the project's copy under tests/fixtures/data (small fixtures shipped with the sources, so a clone
--- without ../shared runs the tests that use them), else the shared datasets folder (../shared/data, or
--- TG_SHARED_DATA); nil when neither has it. rel "../reference/x" finds tests/fixtures/reference/x likewise.
--- Tests that need a dataset too large to ship are tagged #shared (CMake leaves them out, saying so, when
--- ../shared/data is absent) and fail, never pend, when it is missing.
function H.shared_data(rel)
  for _, base in ipairs { "tests/fixtures/data", os.getenv("TG_SHARED_DATA") or "../shared/data" } do
    local path = rel and (base .. "/" .. rel) or base
    local f = io.open(path, "rb")
    if f then f:close() return path end
  end
  return nil
end

--- H.shared_data(rel), or an error saying the test needs it (for tests tagged #shared).
function H.need_shared(rel)
  local path = H.shared_data(rel)
  if not path then error("this test needs " .. rel .. " under ../shared/data (or TG_SHARED_DATA)", 2) end
  return path
end

--- Path of the built tortuga executable.
function H.exe()
  return (os.getenv("TG_BUILD_DIR") or "build") .. "/tortuga"
end

-- assert.relnear(expected, actual, rel): |actual - expected| <= rel * |expected|
local function relnear(state, args)
  local e, a, rel = args[1], args[2], args[3]
  return type(a) == "number" and math.abs(a - e) <= rel * math.abs(e)
end
say:set("assertion.relnear.positive", "Expected %s to be within relative %s of:\n%s")
say:set("assertion.relnear.negative", "Expected %s not to be within relative %s of:\n%s")
assert:register("assertion", "relnear", relnear, "assertion.relnear.positive", "assertion.relnear.negative")

-- assert.error_matches is built in; assert.raises_match(fn, pattern) checks the message contains a plain substring
local function raises_with(state, args)
  local fn, text = args[1], args[2]
  local ok, err = pcall(fn)
  if ok then return false end
  return tostring(err):find(text, 1, true) ~= nil
end
say:set("assertion.raises_with.positive", "Expected the function to raise an error containing:\n%s")
say:set("assertion.raises_with.negative", "Expected the function not to raise an error containing:\n%s")
assert:register("assertion", "raises_with", raises_with, "assertion.raises_with.positive", "assertion.raises_with.negative")

return H
