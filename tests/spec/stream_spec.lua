-- stream_spec.lua — stacks larger than memory: the memory budget, stacks on disk (tg.io.open), the atomic writer
-- (tg.io.writer) and the streamed filters, each compared with the in-memory call.
local tg = require "tortuga"
local H = test_helper

describe("tg.memory", function()
  after_each(function() tg.memory("default") end)

  it("parses sizes in decimal and binary units and returns bytes", function()
    assert.equal(4000000000, (tg.memory("4GB")))
    assert.equal(512 * 2 ^ 20, (tg.memory("512MiB")))
    assert.equal(3 * 2 ^ 29, (tg.memory("1.5G")))
    assert.equal(123456789, (tg.memory(123456789)))
    local b, default = tg.memory()
    assert.equal(123456789, b)
    assert.is_false(default)
  end)

  it("defaults to half of the physical memory (or less under a cgroup limit)", function()
    local b, default = tg.memory("default")
    assert.is_true(default)
    local f = io.open("/proc/meminfo")
    local total = tonumber(f:read("a"):match("MemTotal:%s+(%d+) kB")) * 1024
    f:close()
    assert.is_true(b <= total / 2 + 4096 and b >= 64 * 2 ^ 20)
  end)

  it("names the bad size", function()
    assert.raises_with(function() tg.memory("4 GX") end, "tg.memory: '4 GX' is not a size")
    assert.raises_with(function() tg.memory(0) end, "tg.memory: expected a size")
    assert.raises_with(function() tg.memory(-1) end, "tg.memory: expected a size")
  end)
end)
