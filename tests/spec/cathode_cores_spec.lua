-- cathode_cores_spec.lua — tg.generate.cathode with ise_cores: ISE particle cores packed before the CAM.
-- Fractions stay exact, the volume does not depend on the thread count, coarser cores make fewer and larger
-- grains, the CAM keeps out of the cores, and bad values are refused with the reason.
local tg = require "tortuga"

local function counts3(v)
  local c = v:counts()
  return c[0] or 0, c[1] or 0, c[2] or 0
end

local function base(extra)
  local o = { size = { 64, 64, 64 }, spacing = 2.5e-7, cam_fraction = 0.45, porosity = 0.08, cam_d50 = 2e-6,
              ise_d50 = 3e-6, ise_cores = 0.3, seed = 5 }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

describe("tg.generate.cathode with ise_cores", function()
  it("keeps the phase fractions exact and is independent of the thread count", function()
    local old = tg.threads()
    tg.threads(1)
    local a = tg.generate.cathode(base())
    tg.threads(2)
    local b = tg.generate.cathode(base())
    tg.threads(old)
    assert.are.equal(a:sha256(), b:sha256())
    local p, c = counts3(a)
    local n = 64 ^ 3
    assert.are.equal(math.floor(0.08 * n + 0.5), p)
    assert.is_true(math.abs(c / n - 0.45) <= 0.002)
    assert.are_not.equal(a:sha256(), tg.generate.cathode(base { ise_cores = 0 }):sha256())
  end)

  it("makes fewer, larger ISE grains from coarser cores, and keeps the CAM out of them", function()
    local _, fine = tg.generate.cathode(base { ise_d50 = 2e-6, grains = true })
    local _, coarse = tg.generate.cathode(base { ise_d50 = 4e-6, grains = true })
    assert.is_true(coarse.particles.ise < fine.particles.ise,
      string.format("%d grains from 4 µm cores, %d from 2 µm", coarse.particles.ise, fine.particles.ise))
    -- without cores the CAM is placed at random; with them it fills the gaps between cores: its clusters are
    -- larger, so its chords along every axis are longer on average
    local function cam_chord(o)
      local v = tg.generate.cathode(base(o))
      local s = 0
      for _, ax in ipairs { "x", "y", "z" } do s = s + tg.measure.cld(tg.measure.chords(v, { phase = 1, axis = ax })).mean end
      return s / 3
    end
    local free, packed = cam_chord { ise_cores = 0, ise_d50 = 4e-6 }, cam_chord { ise_cores = 0.3, ise_d50 = 4e-6 }
    assert.is_true(packed > free, string.format("mean CAM chord %.3g m with cores, %.3g m without", packed, free))
  end)

  it("refuses values outside [0, 0.9] and cores that would not leave room for the CAM", function()
    assert.raises_with(function() tg.generate.cathode(base { ise_cores = 0.95 }) end, "ise_cores")
    assert.raises_with(function() tg.generate.cathode(base { ise_cores = -0.1 }) end, "ise_cores")
    assert.raises_with(function() tg.generate.cathode(base { ise_cores = 0.5 }) end, "must be below the ISE fraction")
  end)
end)
