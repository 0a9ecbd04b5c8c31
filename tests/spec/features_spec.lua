-- tg.segment.features: scipy fixtures (bench/features_ref.py, stored in tests/fixtures/features),
-- the layouts of slab / at / stack / volume, convolution layers with analytic weights, the weight file, bad input.
local tg = require "tortuga"
local features = require("tortuga.segment").features
local H = test_helper

local FIX = "tests/fixtures/features/"
local NX, NY, NZ = 20, 18, 14

local function read(name)
  local f = assert(io.open(FIX .. name, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function load_ref()
  local r = { points = {}, names = { [2] = {}, [3] = {} } }
  local it = read("ref.txt"):gmatch("[^\n]+")
  it() it()
  local np = tonumber(it():match("points (%d+)"))
  for i = 1, np do
    local x, y, z = it():match("(%d+) (%d+) (%d+)")
    r.points[i] = { tonumber(x) + 1, tonumber(y) + 1, tonumber(z) + 1 } -- 1-based
  end
  for _, d in ipairs({ 2, 3 }) do
    local n = tonumber(it():match("names%dd (%d+)"))
    for i = 1, n do r.names[d][i] = it() end
  end
  return r
end

local function input()
  return tg.volume.from_bytes(read("input.f32"), { NX, NY, NZ, dtype = "f32" })
end

local function write_conv(path, layers, cut)
  local parts = { "tortuga-conv 1\nlayers " .. #layers .. "\n" }
  for _, l in ipairs(layers) do parts[#parts + 1] = string.format("layer %d %d\n", l.cin, l.cout) end
  parts[#parts + 1] = "data\n"
  for _, l in ipairs(layers) do
    for _, w in ipairs(l.w) do parts[#parts + 1] = string.pack("<f", w) end
    for _, b in ipairs(l.b) do parts[#parts + 1] = string.pack("<f", b) end
  end
  local s = table.concat(parts)
  if cut then s = s:sub(1, #s - cut) end
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

describe("tg.segment.features against scipy.ndimage", function()
  local ref, v = load_ref(), input()
  for _, dims in ipairs({ 2, 3 }) do
    it(dims .. "D full set at the fixture points, within 1e-4", function()
      local F = features(v, { set = "full", dims = dims })
      assert.are.same(ref.names[dims], F.names)
      assert.are.equal(#ref.names[dims], F.count)
      local X = F:slab()
      assert.are.same({ F.count, NX * NY, NZ }, { X:dims() })
      local want = read("ref" .. dims .. "d.f32")
      local worst, pos = 0, 1
      for i, p in ipairs(ref.points) do
        local row = p[1] + NX * (p[2] - 1)
        for j = 1, F.count do
          local w
          w, pos = string.unpack("<f", want, pos)
          worst = math.max(worst, math.abs(X:get(j, row, p[3]) - w))
        end
      end
      assert.is_true(worst <= 1e-4, "worst difference " .. worst)
    end)
  end
end)

describe("feature object", function()
  local v = input()
  local w = v:copy()
  for z = 1, NZ do for y = 1, NY do for x = 1, NX do w:set(x, y, z, -v:get(x, y, z)) end end end
  local F = features({ v, w }, { sigmas = { 0.7, 1.6 }, set = { "gaussian", "hessian" }, dims = 3 })

  it("names, count and printing", function()
    assert.are.same({ "ch1:gaussian(0.7)", "ch1:gaussian(1.6)", "ch1:hessian_ev1(0.7)", "ch1:hessian_ev2(0.7)",
      "ch1:hessian_ev3(0.7)", "ch1:hessian_ev1(1.6)", "ch1:hessian_ev2(1.6)", "ch1:hessian_ev3(1.6)" },
      { table.unpack(F.names, 1, 8) })
    assert.are.equal(16, F.count)
    assert.are.equal("ch2:gaussian(0.7)", F.names[9])
    assert.matches("tortuga.Features%(2 channels 20x18x14, 16 features, 3D%)", tostring(F))
  end)

  it("the second channel (-v) has the negated gaussian and the reversed, negated Hessian eigenvalues", function()
    local X = F:slab({ 3, 5 })
    assert.are.same({ 16, NX * NY, 3 }, { X:dims() })
    local worst = 0
    for r = 1, NX * NY, 7 do for k = 1, 3 do
      worst = math.max(worst, math.abs(X:get(9, r, k) + X:get(1, r, k)))
      for e = 1, 3 do worst = math.max(worst, math.abs(X:get(10 + e, r, k) + X:get(6 - e, r, k))) end
    end end
    assert.is_true(worst < 1e-5)
  end)

  it("at(mask) gives the slab rows of the masked voxels in scan order", function()
    local mask = tg.volume.new { NX, NY, NZ, dtype = "u8" }
    local picks = { { 1, 1, 1 }, { 20, 3, 1 }, { 5, 18, 7 }, { 11, 9, 14 } }
    for _, p in ipairs(picks) do mask:set(p[1], p[2], p[3], 1) end
    local A, n = F:at(mask)
    assert.are.equal(4, n)
    assert.are.same({ 16, 4, 1 }, { A:dims() })
    local S = F:slab()
    for i, p in ipairs(picks) do
      for j = 1, 16 do assert.are.equal(S:get(j, p[1] + NX * (p[2] - 1), p[3]), A:get(j, i, 1)) end
    end
    assert.raises_with(function() F:at(tg.volume.new { NX, NY, NZ, dtype = "u8" }) end, "selects no voxel")
  end)

  it("stack, volume and output = 'stack' agree with the slab", function()
    local S = F:slab({ 2, 4 })
    local vols, names = F:stack({ 2, 4 })
    assert.are.equal(16, #vols)
    assert.are.same(F.names, names)
    local one = F:volume("ch2:hessian_ev3(1.6)", { 2, 4 })
    assert.are.same({ NX, NY, 3 }, { one:dims() })
    for z = 1, 3 do for y = 1, NY, 5 do for x = 1, NX, 3 do
      local r = x + NX * (y - 1)
      assert.are.equal(S:get(16, r, z), vols[16]:get(x, y, z))
      assert.are.equal(S:get(16, r, z), one:get(x, y, z))
      assert.are.equal(S:get(2, r, z), vols[2]:get(x, y, z))
    end end end
    local vs, nm = features({ v, w }, { sigmas = { 0.7, 1.6 }, set = { "gaussian", "hessian" }, dims = 3,
                                        z = { 2, 4 }, output = "stack" })
    assert.are.equal(16, #vs)
    assert.are.equal("ch2:hessian_ev3(1.6)", nm[16])
    assert.are.equal(vols[5]:get(7, 7, 2), vs[5]:get(7, 7, 2))
  end)

  it("slabs() covers the z range in pieces that fit the budget", function()
    local covered, pieces = 0, 0
    for r in F:slabs(F:bytes_per_voxel() * NX * NY * (3 + 2 * F.halo)) do
      assert.is_true(r[2] - r[1] + 1 <= 3)
      covered = covered + r[2] - r[1] + 1
      pieces = pieces + 1
    end
    assert.are.equal(NZ, covered)
    assert.are.equal(5, pieces)
  end)
end)

describe("convolution features", function()
  local dir = H.tmpdir("features")
  local v = input()

  it("a 1 -> 2 layer with identity kernels gives ReLU(v) and ReLU(0.5 - v)", function()
    local w = {}
    for i = 1, 18 do w[i] = 0 end
    w[5], w[14] = 1, -1 -- centre taps of output 1 and 2
    local path = dir .. "/ident.tgconv"
    write_conv(path, { { cin = 1, cout = 2, w = w, b = { 0, 0.5 } } })
    local F = features(v, { sigmas = { 1 }, set = { "gaussian" }, conv = path })
    assert.are.same({ "ch1:gaussian(1)", "ch1:conv1", "ch1:conv2" }, F.names)
    local X = F:slab({ 4, 4 })
    for y = 1, NY do for x = 1, NX do
      local r, val = x + NX * (y - 1), v:get(x, y, 4)
      assert.are.equal(math.max(val, 0), X:get(2, r, 1))
      assert.near(math.max(0.5 - val, 0), X:get(3, r, 1), 1e-6)
    end end
  end)

  it("a 3-plane first layer sees a grey slice three times; two layers chain", function()
    -- layer 1: 3 -> 1, each plane's right neighbour with weight 1/3 (sum: the right neighbour, zero padding)
    local w1 = {}
    for i = 1, 27 do w1[i] = 0 end
    for p = 0, 2 do w1[p * 9 + 6] = 1 / 3 end
    -- layer 2: 1 -> 1, the pixel below, minus 0.25
    local w2 = { 0, 0, 0, 0, 0, 0, 0, 1, 0 }
    local path = dir .. "/chain.tgconv"
    write_conv(path, { { cin = 3, cout = 1, w = w1, b = { 0 } }, { cin = 1, cout = 1, w = w2, b = { -0.25 } } })
    local net = require("tortuga.segment").load_conv(path)
    assert.are.equal("tortuga.ConvNet(3->1, 1->1 3x3 + ReLU)", tostring(net))
    local F = features(v, { sigmas = { 1 }, set = {}, conv = net })
    assert.are.same({ "ch1:conv1" }, F.names)
    local X = F:slab({ 2, 2 })
    for y = 1, NY do for x = 1, NX do
      local want = 0
      if y < NY and x < NX then want = math.max(v:get(x + 1, y + 1, 2), 0) end
      if y == NY then want = 0 end
      want = math.max(want - 0.25, 0)
      assert.near(want, X:get(1, x + NX * (y - 1), 1), 1e-5)
    end end
  end)

  it("bad weight files give clear errors", function()
    local w = {}
    for i = 1, 18 do w[i] = 0.1 end
    local path = dir .. "/cut.tgconv"
    write_conv(path, { { cin = 1, cout = 2, w = w, b = { 0, 0 } } }, 5)
    assert.raises_with(function() features(v, { conv = path }) end, "truncated")
    assert.raises_with(function() features(v, { conv = path }) end, path)
    write_conv(path, { { cin = 1, cout = 2, w = w, b = { 0, 0 } }, { cin = 3, cout = 1, w = {}, b = {} } })
    assert.raises_with(function() features(v, { conv = path }) end, "wrong shapes")
    assert.raises_with(function() features(v, { conv = dir .. "/missing.tgconv" }) end, "missing.tgconv")
    assert.raises_with(function() require("tortuga.segment").load_conv(dir .. "/missing.tgconv") end, "No such file")
  end)
end)

describe("bad input", function()
  local v = input()
  it("channels of different shapes", function()
    local small = tg.volume.new { NX, NY - 1, NZ, dtype = "f32" }
    assert.raises_with(function() features({ v, small }) end, "channels differ in shape: channel 1 is 20x18x14, channel 2 is 20x17x14")
    assert.raises_with(function() features({ v, 3 }) end, "channel 2 is not a volume")
    assert.raises_with(function() features({}) end, "non-empty list of volumes")
  end)
  it("unknown sets, sigmas, dims, options", function()
    assert.raises_with(function() features(v, { set = "fancy" }) end, "unknown feature set 'fancy'")
    assert.raises_with(function() features(v, { set = { "gaussian", "laplace" } }) end, "unknown feature kind 'laplace'")
    assert.raises_with(function() features(v, { sigmas = "vigra" }) end, "unknown sigma set 'vigra'")
    assert.raises_with(function() features(v, { sigmas = { 1, -2 } }) end, "sigma 2 must be a number in (0, 64]")
    assert.raises_with(function() features(v, { sigmas = { 1, 1 } }) end, "listed twice")
    assert.raises_with(function() features(v, { sigmas = { 0.3 }, set = { "hessian" } }) end, "no feature")
    assert.raises_with(function() features(v, { dims = 4 }) end, "dims must be 2 or 3")
    assert.raises_with(function() features(v, { sigma = { 1 } }) end, "sigmas")
    assert.raises_with(function() features(v, { z = { 3, 40 } }) end, "z must be {first, last} within 1..14")
    local F = features(v, { sigmas = { 1 } })
    assert.raises_with(function() F:slab({ 0, 2 }) end, "within 1..14")
    assert.raises_with(function() F:volume("ch3:gaussian(1)") end, "no feature named")
  end)
end)
