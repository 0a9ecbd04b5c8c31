-- tg.measure.mesh / tg.measure.surfaces / write_mesh: analytic shapes, scikit-image and PoreSpy numbers
-- (fixtures written once by bench/surfaces_ref.py, and ../shared/reference/anchor-values.json), bad input.
local tg = require "tortuga"
local H = test_helper

local function fixture_dir()
  local src = debug.getinfo(1, "S").source:sub(2)
  return (src:match("^(.*)/tests/spec/") or ".") .. "/tests/fixtures/surfaces"
end

local function ref()
  local t = {}
  for line in io.lines(fixture_dir() .. "/ref.txt") do
    local k, v = line:match("^(%S+) (%S+)$")
    if k and not k:match("^#") then t[k] = tonumber(v) end
  end
  return t
end

local function blobs()
  local f = assert(io.open(fixture_dir() .. "/blobs_24x22x20.u8", "rb"))
  local s = f:read("a")
  f:close()
  return tg.volume.from_bytes(s, { 24, 22, 20, dtype = "u8" })
end

local function two_layers(spacing)
  local v = tg.volume.new{ 12, 10, 8, spacing = spacing }
  for z = 1, 8 do for y = 1, 10 do for x = 1, 12 do v:set(x, y, z, z <= 3 and 1 or 2) end end end
  return v
end

describe("tg.measure.surfaces", function()
  it("gives the plane's area as the interface of two layers, scaled by anisotropic spacing", function()
    local s = tg.measure.surfaces(two_layers(1e-6), { phases = { cam = 1, ise = 2 } })
    assert.relnear(11 * 9 * 1e-12, s.phases[1], 1e-9)
    assert.relnear(11 * 9 * 1e-12, s.interfaces["1-2"], 1e-9)
    assert.equal("m2", s.units)
    assert.equal("open", s.convention)
    assert.equal("cam", s.names[1])
    local a = tg.measure.surfaces(two_layers({ 1e-6, 3e-6, 7e-6 }), { phases = { 1, 2 } })
    assert.relnear(11 * 9 * 3e-12, a.interfaces["1-2"], 1e-9) -- a z-normal plane scales with sx * sy only
    assert.relnear(11 * 9 * 3e-12 / (12 * 10 * 8 * 21e-18), a.specific.per_volume.interfaces["1-2"], 1e-9)
  end)

  it("matches scikit-image (open) and PoreSpy (closed) on a random three-phase volume", function()
    local r, v = ref(), blobs()
    local s = tg.measure.surfaces(v, { phases = { pore = 0, cam = 1, ise = 2 } })
    for p = 0, 2 do
      assert.relnear(r["blobs_open_" .. p], s.phases[p], 1e-6)
      assert.equal(r["blobs_voxels_" .. p], s.voxels[p])
    end
    assert.relnear(0.5 * (r.blobs_open_0 + r.blobs_open_1 - r.blobs_open_01), s.interfaces_union["0-1"], 1e-5)
    assert.relnear(0.5 * (r.blobs_open_0 + r.blobs_open_1 - r.blobs_open_2), s.interfaces["0-1"], 1e-5)
    local c = tg.measure.surfaces(v, { phases = { 0, 1, 2 }, convention = "closed" })
    assert.is_true(c.smooth)
    for p = 0, 2 do assert.relnear(r["blobs_closed_" .. p], c.phases[p], 5e-3) end
    local l = tg.measure.surfaces(v, { method = "lorensen" })
    assert.is_true(l.phases[1] < s.phases[1]) -- the classic table separates where Lewiner joins
  end)

  it("reports per-gram areas of a named phase", function()
    local s = tg.measure.surfaces(two_layers(1e-6), { phases = { cam = 1, ise = 2 }, density = { cam = 4.7e3 },
                                                      per_gram_of = "cam" })
    local grams = 12 * 10 * 3 * 1e-18 * 4.7e3 * 1e3
    assert.relnear(grams, s.specific.per_gram.grams, 1e-12)
    assert.relnear(11 * 9 * 1e-12 / grams, s.specific.per_gram.interfaces["1-2"], 1e-9)
    assert.equal("cam", s.specific.per_gram.of)
  end)

  it("agrees with the peers on the shared synthetic volume", function()
    local path = H.need_shared("synth-3phase-100/synth_3phase_100.tif") -- shipped in tests/fixtures/data
    local v = tg.io.read(path)
    local s = tg.measure.surfaces(v, { phases = { 0, 1, 2 } })
    -- anchor-values.json: surface_open_skimage (voxel units; the file's spacing may be metres per voxel)
    local sx, sy = table.unpack(v:spacing())
    local open = { [0] = 48105.65625, 71444.515625, 98739.109375 }
    for p = 0, 2 do assert.relnear(open[p] * sx * sy, s.phases[p], 1e-3) end
    local eq1 = { ["0-1"] = 10405.53125, ["0-2"] = 37700.125, ["1-2"] = 61038.984375 }
    assert.equal("eq1", s.interface_formula)
    for k, a in pairs(eq1) do assert.relnear(a * sx * sy, s.interfaces[k], 1e-3) end
  end)

  it("measures the triple-phase boundary of three phases meeting along a straight line, per axis and spacing", function()
    -- phase 0 where y < 5, else 1 where z < 4, else 2: the three meet along one line along x
    local sp = { 1e-7, 2e-7, 3e-7 }
    local v = tg.volume.new{ 12, 10, 8, spacing = sp }
    for z = 1, 8 do for y = 1, 10 do for x = 1, 12 do v:set(x, y, z, y <= 5 and 0 or z <= 4 and 1 or 2) end end end
    local s = tg.measure.surfaces(v, { phases = { pore = 0, cam = 1, ise = 2 }, density = { cam = 4.7e3 },
                                       per_gram_of = "cam" })
    assert.relnear(12 * sp[1], s.tpb_length, 1e-12)
    assert.relnear(12 * sp[1], s.tpb["0-1-2"], 1e-12)
    assert.equal(1, s.tpb_correction)
    assert.relnear(12 * sp[1] / (12 * 10 * 8 * 6e-21), s.specific.per_volume.tpb_length, 1e-12)
    assert.relnear(12 * sp[1] / s.specific.per_gram.grams, s.specific.per_gram.tpb_length, 1e-12)
    -- the same line along z: length 8 * sz; the closed convention and smoothing do not change it
    local w = tg.volume.new{ 12, 10, 8, spacing = sp }
    for z = 1, 8 do for y = 1, 10 do for x = 1, 12 do w:set(x, y, z, x <= 6 and 0 or y <= 5 and 1 or 2) end end end
    for _, conv in ipairs{ "open", "closed" } do
      local c = tg.measure.surfaces(w, { convention = conv })
      assert.relnear(8 * sp[3], c.tpb_length, 1e-12)
    end
    local c = tg.measure.surfaces(w, { tpb_correction = 2 / 3 })
    assert.relnear(8 * sp[3] * 2 / 3, c.tpb_length, 1e-12)
    -- a fourth phase listed: one entry per triple, tpb_length where three or more meet
    local f = tg.measure.surfaces(w, { phases = { 0, 1, 2, 7 } })
    assert.relnear(8 * sp[3], f.tpb["0-1-2"], 1e-12)
    assert.equal(0, f.tpb["0-1-7"])
    assert.relnear(8 * sp[3], f.tpb_length, 1e-12)
    -- two phases: no triple line
    local two = tg.measure.surfaces(two_layers(1e-6), { phases = { 1, 2 } })
    assert.equal(0, two.tpb_length)
    assert.same({}, two.tpb)
    assert.raises_with(function() tg.measure.surfaces(w, { tpb_correction = 0 }) end, "tpb_correction must be a positive")
  end)

  it("handles absent phases and rejects bad input with clear messages", function()
    local v = two_layers(1e-6)
    local s = tg.measure.surfaces(v, { phases = { 1, 5 } })
    assert.equal(0, s.phases[5])
    assert.same({ 5 }, s.absent)
    assert.equal(0, s.interfaces["1-5"])
    assert.raises_with(function() tg.measure.surfaces(v:astype("f32")) end, "labels must be an integer volume")
    assert.raises_with(function() tg.measure.surfaces(v, { convension = "open" }) end, "did you mean 'convention'")
    assert.raises_with(function() tg.measure.surfaces(v, { convention = "shut" }) end, "convention must be")
    assert.raises_with(function() tg.measure.surfaces(v, { phases = { cam = 1 }, per_gram_of = "cam" }) end,
      "needs density")
    assert.raises_with(function() tg.measure.surfaces(v, { phases = { cam = 1 }, per_gram_of = "ise", density = {} }) end,
      "per_gram_of 'ise' is not one of the phases")
    assert.raises_with(function() tg.measure.surfaces(v, { phases = { 1, 1 } }) end, "label 1 is listed twice")
  end)
end)

describe("tg.measure.mesh", function()
  it("makes a closed, outward-oriented mesh whose volume is close to the voxels'", function()
    local n, r = 33, 12
    local v = tg.volume.new{ n, n, n, spacing = { 1e-6, 1e-6, 2e-6 } }
    local count = 0
    for z = 1, n do for y = 1, n do for x = 1, n do
      if (x - 17) ^ 2 + (y - 17) ^ 2 + (z - 17) ^ 2 <= r * r then v:set(x, y, z, 1); count = count + 1 end
    end end end
    local m = tg.measure.mesh(v, 1)
    local nv, nt = m:counts()
    assert.is_true(nt > 0 and nv > 0)
    assert.relnear(count * 2e-18, m:volume(), 0.03)
    local ms = tg.measure.mesh(v, 1, { smooth = true })
    -- an ellipsoid of semi-axes 12, 12, 24 um: Knud Thomsen's formula is within about 1 %
    local a, b, c, p = 12e-6, 12e-6, 24e-6, 1.6075
    local ell = 4 * math.pi * (((a * b) ^ p + (a * c) ^ p + (b * c) ^ p) / 3) ^ (1 / p)
    assert.relnear(ell, ms:area(), 0.03)
    assert.matches("^tortuga.Mesh%(%d+ vertices, %d+ triangles", tostring(m))
    m:release()
    assert.equal("tortuga.Mesh(released)", tostring(m))
    assert.raises_with(function() m:area() end, "released")
  end)

  it("puts vertices in metres with x = columns", function()
    local v = tg.volume.new{ 10, 6, 6, spacing = { 2e-6, 1e-6, 1e-6 } }
    for z = 2, 5 do for y = 2, 5 do v:set(8, y, z, 1) end end -- a slab in column 8 (0-based 7)
    local m = tg.measure.mesh(v, 1)
    local xmin, xmax = math.huge, -math.huge
    local nv = m:counts()
    for i = 1, nv do
      local x = m:vertex(i)
      xmin, xmax = math.min(xmin, x), math.max(xmax, x)
    end
    assert.relnear(6.5 * 2e-6, xmin, 1e-6)
    assert.relnear(7.5 * 2e-6, xmax, 1e-6)
  end)

  it("refuses empty phases, float labels and unknown options", function()
    local v = two_layers(1e-6)
    assert.raises_with(function() tg.measure.mesh(v, 7) end, "no voxel has this label")
    assert.raises_with(function() tg.measure.mesh(v:astype("f64"), 1) end, "labels must be an integer volume")
    assert.raises_with(function() tg.measure.mesh(v, 1, { smoth = true }) end, "did you mean 'smooth'")
    assert.raises_with(function() tg.measure.mesh(v, 1, { method = "mc33" }) end, "method must be")
    assert.raises_with(function() tg.measure.mesh(v, 1.5) end, "phase must be an integer")
  end)
end)

describe("write_mesh", function()
  local function header(path)
    local f = assert(io.open(path, "rb"))
    local h = {}
    for line in f:lines() do
      h[#h + 1] = line
      if line == "end_header" then break end
    end
    local size = f:seek("end")
    f:close()
    return h, size
  end

  it("writes binary PLY and STL that read back with the right counts", function()
    local dir = H.tmpdir("mesh_spec")
    local m = tg.measure.mesh(two_layers(1e-6), 1, { closed = true })
    local nv, nt = m:counts()
    local ply = tg.io.write_mesh(dir .. "/layer.ply", m)
    local h, size = header(ply)
    assert.equal("format binary_little_endian 1.0", h[2])
    local body = 0
    for _, l in ipairs(h) do body = body + #l + 1 end
    local hv = table.concat(h, "\n")
    assert.equal(nv, tonumber(hv:match("element vertex (%d+)")))
    assert.equal(nt, tonumber(hv:match("element face (%d+)")))
    assert.equal(body + 12 * nv + 13 * nt, size)
    local stl = tg.io.write_mesh(dir .. "/layer.stl", m)
    local f = assert(io.open(stl, "rb"))
    local head = f:read(84)
    local count = string.unpack("<I4", head, 81)
    local total = f:seek("end")
    f:close()
    assert.equal(nt, count)
    assert.equal(84 + 50 * nt, total)
    assert.raises_with(function() tg.io.write_mesh(dir .. "/none/x.ply", m) end, "tg.io.write_mesh: ")
    assert.raises_with(function() tg.io.write_mesh(dir .. "/x.obj", m) end, "use .ply or .stl")
    assert.raises_with(function() tg.io.write_mesh(dir .. "/x.ply", {}) end, "expected a tortuga.Mesh")
  end)
end)

-- Sub-voxel sources: a CAM sphere (radius 12 voxels) in ISE with a pore layer above z = 44.5 (plane), given as
-- class probabilities (a tanh profile 1 voxel wide around each surface) with per-voxel noise, renormalised; the
-- "segmentation" is their argmax. Truth: 4 pi R^2 for CAM-ISE, (n - 1)^2 for ISE-pore, no CAM-pore.
local function noisy_probabilities(n, R, amp, seed)
  math.randomseed(seed)
  local c = (n + 1) / 2 + 0.27
  local P = { {}, {}, {} } -- pore, cam, ise
  local lab = {}
  for z = 1, n do for y = 1, n do for x = 1, n do
    local ds = math.sqrt((x - c) ^ 2 + (y - c + 0.31) ^ 2 + (z - c + 0.12) ^ 2) - R -- < 0 in the sphere
    local dp = 44.5 - z                                                         -- < 0 in the pore layer
    local cam = 0.5 - 0.5 * math.tanh(ds)
    local pore = (1 - cam) * (0.5 - 0.5 * math.tanh(dp))
    local p = { pore, cam, 1 - cam - pore }
    local s = 0
    for k = 1, 3 do p[k] = math.max(0, p[k] + amp * (2 * math.random() - 1)); s = s + p[k] end
    local best = 1
    for k = 1, 3 do p[k] = p[k] / s; if p[k] > p[best] then best = k end end
    for k = 1, 3 do P[k][#P[k] + 1] = string.pack("f", p[k]) end
    lab[#lab + 1] = string.char(best - 1)
  end end end
  local prob = {}
  for k, name in ipairs { "pore", "cam", "ise" } do
    prob[name] = tg.volume.from_bytes(table.concat(P[k]), { n, n, n, dtype = "f32" })
    prob[k - 1] = prob[name]
  end
  return prob, tg.volume.from_bytes(table.concat(lab), { n, n, n, dtype = "u8" })
end

describe("tg.measure.surfaces sub-voxel sources", function()
  local n, R = 52, 12
  local prob, seg = noisy_probabilities(n, R, 0.3, 7)
  local sphere, plane = 4 * math.pi * R * R, (n - 1) ^ 2
  local PH = { pore = 0, cam = 1, ise = 2 }

  it("probabilities (sigma 1 voxel) give the noisy sphere and plane within 2 %; the labels' bias is large", function()
    local lab = tg.measure.surfaces(seg, { phases = PH })
    local pr = tg.measure.surfaces(prob, { phases = PH, source = "probabilities", sigma = 1 })
    assert.is_true(lab.interfaces["1-2"] / sphere - 1 > 0.15) -- staircase + every misclassified voxel
    assert.is_true(math.abs(pr.interfaces["1-2"] / sphere - 1) < 0.02)
    assert.is_true(math.abs(pr.interfaces["0-2"] / plane - 1) < 0.02)
    assert.is_true(pr.interfaces["0-1"] < 0.01 * sphere)
    assert.equal("probabilities", pr.source)
    assert.equal("eq1", pr.interface_formula)
    -- the unions measured (what fields that do not sum to 1 take) give the same interfaces to 1e-3
    local core = require "tortuga.core"
    local u = core.measure.surfaces_fields({ prob.pore, prob.cam, prob.ise }, nil, "open", "lewiner", { 1, 1, 1 }, 4, 0.5,
                                           true, true)
    assert.equal("unions", u.interface_formula)
    assert.near(pr.interfaces["1-2"], u.interface[2][3], 1e-3 * pr.interfaces["1-2"])
    assert.near(pr.interfaces["0-2"], u.interface[1][3], 1e-3 * pr.interfaces["0-2"])
    assert.same({ 1, 1, 1 }, pr.sigma)
    assert.is_true(pr.sum_error < 1e-5)
    -- keys by label value work as well as by name
    local byl = tg.measure.surfaces({ [0] = prob[0], [1] = prob[1], [2] = prob[2] }, { source = "probabilities", sigma = 1 })
    assert.equal(pr.interfaces["1-2"], byl.interfaces["1-2"])
  end)

  it("smoothed labels (sigma 1.5) remove most of the labels' bias", function()
    local lab = tg.measure.surfaces(seg, { phases = PH })
    local sm = tg.measure.surfaces(seg, { phases = PH, source = "smoothed", sigma = 1.5 })
    assert.equal("smoothed", sm.source)
    assert.is_true(math.abs(sm.interfaces["1-2"] / sphere - 1) < 0.05)
    assert.is_true(math.abs(sm.interfaces["1-2"] / sphere - 1) < 0.25 * (lab.interfaces["1-2"] / sphere - 1))
    -- the smoothed indicator keeps each phase's voxel count
    for label, count in pairs(seg:counts()) do assert.equal(count, sm.voxels[label]) end
    local pg = tg.measure.surfaces(seg, { phases = PH, source = "smoothed", density = { cam = 4.7e3 }, per_gram_of = "cam" })
    assert.near(pg.interfaces["1-2"] / pg.specific.per_gram.grams, pg.specific.per_gram.interfaces["1-2"], 1e-12)
    assert.is_nil(pg.tpb_length)
  end)

  it("refuses bad input with the argument named", function()
    assert.raises_with(function() tg.measure.surfaces(seg, { source = "fuzzy" }) end, "source must be")
    assert.raises_with(function() tg.measure.surfaces(seg, { sigma = 1 }) end, "sigma is for source")
    assert.raises_with(function() tg.measure.surfaces(seg, { source = "probabilities" }) end, "takes the table of class")
    assert.raises_with(function() tg.measure.surfaces(prob, { source = "probabilities", phases = { pore = 0, foo = 9 } }) end,
      "no probability volume named foo (the probabilities are keyed cam, ise, pore)")
    assert.raises_with(function() tg.measure.surfaces(seg, { source = "smoothed", sigma = -1 }) end, "sigma must be finite")
    assert.raises_with(function() tg.measure.surfaces(seg, { source = "smoothed", smooth = true }) end, "smooth is for")
    assert.raises_with(function() tg.measure.surfaces({ cam = seg }, { source = "probabilities", phases = { cam = 1 } }) end,
      "must be f32 or f64")
  end)
end)
