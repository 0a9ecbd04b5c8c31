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

--- The shared datasets folder (../shared/data), or nil when absent.
function H.shared_data(rel)
  local base = os.getenv("TG_SHARED_DATA") or "../shared/data"
  local path = rel and (base .. "/" .. rel) or base
  local f = io.open(path, "rb")
  if f then f:close() return path end
  return nil
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
