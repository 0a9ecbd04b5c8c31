local tg = require "tortuga"
local walk = require "tortuga.walk"

local function block(nx, ny, nz, f, spacing)
  local v = tg.volume.new{ nx, ny, nz, spacing = spacing }
  for z = 1, nz do for y = 1, ny do for x = 1, nx do v:set(x, y, z, f(x, y, z)) end end end
  return v
end

describe("tg.transport.random_walk", function()
  it("gives tau = 1 in free space along every axis, with the pytrax and the late fits", function()
    local v = block(16, 16, 16, function() return 1 end)
    local r = walk.random_walk(v, { phase = 1, walkers = 30000, steps = 800, seed = 3 })
    for _, a in ipairs{ "x", "y", "z", "mean" } do
      assert.relnear(1.0, r.tau[a], 0.02)
      assert.relnear(1.0, r.tau_late[a], 0.05)
      assert.is_true(r.r2[a] > 0.99)
    end
    assert.equal(801, #r.msd.steps)
    assert.equal(4, #r.trend.z)
    assert.equal("m2", r.units.msd)
  end)

  it("gives tau_z = 1 in straight channels and no transport across them", function()
    local v = block(12, 12, 24, function(x, y) return (x % 4 == 1 and y % 4 == 1) and 2 or 0 end)
    local r = walk.random_walk(v, { phase = 2, walkers = 20000, steps = 1200, seed = 1 })
    assert.relnear(1.0, r.tau.z, 0.02)
    assert.is_true(r.tau.x > 100) -- bounded displacement: only the mirror hops at the faces
    assert.equal(9 * 24, r.start_voxels)
  end)

  it("honours anisotropic spacing: free space stays isotropic", function()
    local v = block(12, 12, 12, function() return 1 end, { 1e-7, 1e-7, 3e-7 })
    local r = walk.random_walk(v, { phase = 1, walkers = 30000, steps = 600 })
    assert.near(9 / 19, r.axis_probability.x, 1e-12)
    for _, a in ipairs{ "x", "y", "z" } do assert.relnear(1.0, r.tau[a], 0.03) end
    -- physical MSD per axis is the same in free space
    local n = #r.msd.steps
    assert.relnear(r.msd.x[n], r.msd.z[n], 0.05)
  end)

  it("walks in 2D images", function()
    local v = block(30, 30, 1, function() return 1 end)
    local r = walk.random_walk(v, { phase = 1, walkers = 20000, steps = 400 })
    assert.relnear(1.0, r.tau.x, 0.02)
    assert.is_nil(r.tau.z)
  end)

  it("is the same on 1 and N threads and changes with the seed", function()
    local v = block(14, 13, 12, function(x, y, z) return ((x * 7 + y * 3 + z * 5) % 11 < 7) and 1 or 0 end)
    local n = tg.threads()
    tg.threads(1)
    local a = walk.random_walk(v, { phase = 1, walkers = 500, steps = 200 })
    tg.threads(2)
    local b = walk.random_walk(v, { phase = 1, walkers = 500, steps = 200 })
    tg.threads(n)
    assert.same(a.msd, b.msd)
    local c = walk.random_walk(v, { phase = 1, walkers = 500, steps = 200, seed = 9 })
    assert.are_not.same(a.msd.x, c.msd.x)
  end)

  it("refuses bad input clearly", function()
    local v = block(4, 4, 4, function() return 1 end)
    assert.raises_with(function() walk.random_walk(v, { walkers = 10 }) end, "option 'phase'")
    assert.raises_with(function() walk.random_walk(v, { phase = 1, walkers = 0 }) end, "walkers must be an integer >= 1")
    assert.raises_with(function() walk.random_walk(v, { phase = 1, steps = -1 }) end, "steps must be an integer >= 1")
    assert.raises_with(function() walk.random_walk(v, { phase = 2 }) end, "phase 2 is absent from the volume")
    assert.raises_with(function() walk.random_walk(v, { phase = 1, stpes = 3 }) end, "did you mean 'steps'")
    assert.raises_with(function() walk.random_walk(v, { phase = 1, fit = { from = 0.8, to = 0.2 } }) end, "fit must be")
    assert.raises_with(function() walk.random_walk(v, { phase = 1, start = "middle" }) end, "start must be")
  end)
end)
