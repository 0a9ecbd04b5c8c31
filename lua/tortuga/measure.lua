--- tg.measure — descriptors of a label volume.
--
--   tg.measure.fractions(labels) --> { [0] = 0.07, [1] = 0.55, [2] = 0.38, units = "1" }
--     Volume fraction of every label present (voxel count / total voxels), for u8, u16 or i32 labels.
--     With {phases = {pore = 0, cam = 1, ise = 2}} the result also has `by_name = {pore = ..., ...}`.
--     With {profile = "z"} (or "x", "y") every label maps to an array of per-slice fractions along that axis
--     (PoreSpy's porosity_profile): { [0] = {f1, f2, ...}, [1] = {...}, axis = "z", units = "1" }.
--
--   tg.measure.chords(labels, {phase = 1, axis = "z", spacing = 2, trim = "faces"})
--     --> { lengths = {m...}, histogram = {[L] = count of chords of L voxels}, n = ..., phase = 1, axis = "z",
--           spacing = 2, trim = "faces", voxel_length = m, units = "m" }
--     PoreSpy's apply_chords conventions: chord lines on every (spacing+1)-th row/column starting at index 0
--     (spacing = empty lines between chord lines; 2 = the paper's "two voxels between adjacent chords");
--     trim = "faces" drops every chord touching any face of the subsampled grid (PoreSpy's trim_edges=True);
--     "ends" drops only chords reaching the two ends of the axis; false keeps all. Length = voxel count x the
--     voxel spacing along the axis. axis = "all" gives { x = {...}, y = {...}, z = {...} }.
--
--   tg.measure.cld(chords, {bins = nil, log = false, weight = "count"})
--     Chord length distribution with PoreSpy's chord_length_distribution outputs: pdf, relfreq (= pdf x width,
--     sums to 1), cdf (fraction of chords in this bin or longer — a "fraction at least this long"), bin_centers,
--     bin_edges, bin_widths, plus n, mean and median chord length (count-weighted) and mean_length_weighted.
--     bins = nil: one bin per voxel length, edges (0, 1, ..., max+1) x voxel length (PoreSpy's bins=None);
--     an integer: that many equal bins from the shortest to the longest chord (np.histogram); a table: edges.
--     weight = "length" multiplies the counts by the bin-centre length before normalising (PoreSpy's
--     normalization='length'; with log bins the weight is the length 10^centre, not the log value).
--     log = true bins log10(length) (default 10 bins). No chords: empty arrays, n = 0, mean = median = 0.
--
--   tg.measure.components(mask, {connectivity = 6, phase = nil})
--     --> { labels = <i32 volume>, n = ..., sizes = {...}, bboxes = {{x1, y1, z1, x2, y2, z2}, ...}, connectivity = 6 }
--     Labels 1..n numbered in raster order of each component's first voxel (scipy.ndimage.label's numbering);
--     bounding boxes 1-based inclusive. mask: an integer volume, nonzero = in (or labels with phase = ...).
--
--   tg.measure.percolation(labels, {phase = 1, axis = "z", connectivity = 6})
--     --> { fractions = {spanning, inlet, outlet, isolated}, of_volume = {...}, voxels = {...}, clusters = {...},
--           phase_fraction = ..., n_clusters = ..., phase = 1, axis = "z", connectivity = 6, units = "1" }
--     Fractions of the phase's voxels in clusters touching both faces normal to the axis (spanning), only the
--     first slice (inlet), only the last (outlet), or neither (isolated). An absent phase gives zeros.
--
--   tg.measure.distance(mask, {phase = nil, dtype = "f64", squared = false}) --> volume
--     Exact Euclidean distance (metres, the volume's spacing honoured) from each mask voxel to the nearest zero
--     voxel; = scipy.ndimage.distance_transform_edt(mask, sampling=(sz, sy, sx)). The volume faces are not walls.
--
--   tg.measure.thickness(mask, {phase = nil, bins = 32})
--     --> { map = <f32 volume: diameter in m>, d10, d50, d90, mean, max, distribution = {bin_edges, bin_centers,
--           fraction, pdf}, units = "m" }
--     Local thickness: the diameter of the largest inscribed sphere covering each voxel (Hildebrand & Rüegsegger
--     1997); the distribution and d10/d50/d90 are volume-weighted (fraction of the phase's volume).
--
--   tg.measure.active_cam(labels, {cam = 1, ise = 2, axis = "z", collector = "first", reach = "2um",
--                                  connectivity = 6, distance = false})
--     --> { active = f, fractions = {electronic, contact, cluster, active, ionic}, by_reach = {reach = {m...},
--           fraction = {...}}, reach = m, interface = {faces, connected, connected_fraction}, voxels = {...},
--           collector = "first", separator = "last", axis, connectivity, sweeps, max_distance, units = "1",
--           convention = "...", distance = <f32 volume> (with distance = true) }
--     The electrochemically active CAM estimated from the microstructure: CAM whose cluster touches the
--     current-collector face (`collector` = "first" or "last" slice along `axis`; the separator is the opposite
--     face) AND that lies within `reach` (geodesic, through its own CAM cluster) of a face shared with ISE whose
--     cluster touches the separator. reach stands for the solid-state diffusion length; the default 2 µm is
--     sqrt(D t) for D = 1e-15 m2/s over about an hour (NCM at C/1 to C/10); reach = math.huge counts whole
--     clusters. fractions are of all CAM voxels except `ionic` (of the ISE voxels, touching the separator);
--     `contact` = CAM voxels sharing a face with connected ISE; `cluster` = reach infinite. by_reach gives the
--     curve at 0, 0.5, 1, 2, 4, 8 µm and infinity (or `reaches` = {...}). interface: CAM-ISE voxel faces and
--     the share between connected CAM and connected ISE. distance = true adds the geodesic distance map (m;
--     INFINITY for connected CAM without ionic contact, -1 for CAM cut off from the collector, NaN elsewhere).
--     engine/measure/tg_active.h has the method and its cost.
--
--   tg.measure.mesh(labels, phase [, {smooth=false, closed=false, method="lewiner"}])  --> tortuga.Mesh
--     The iso-surface at level 0.5 of the indicator of `phase` (a label value). Lewiner et al. 2003 case
--     resolution (method="lorensen": the classic table); a watertight, outward-oriented mesh with shared
--     vertices in metres (x = columns, y = rows, z = slices, spacing honoured). closed=true closes the
--     surface at the volume faces; smooth=true meshes the mean over the 7-voxel cross instead.
--     mesh:counts() -> vertices, triangles; mesh:area() (m2); mesh:volume() (m3, signed, > 0 when closed);
--     mesh:vertex(i), mesh:triangle(i); mesh:release().
--
--   tg.measure.surfaces(labels [, opts]) -->
--     { phases = {[label] = m2}, interfaces = {["a-b"] = m2}, voxels = {[label] = n}, absent = {labels...},
--       tpb = {["a-b-c"] = m}, tpb_length = m, tpb_correction = 1,
--       specific = { per_volume = {phases = {[label] = m-1}, interfaces = {...}},
--                    per_gram = {phases = {...}, interfaces = {...}, of = "cam"} },      (per_gram if asked)
--       names = {[label] = name}, units = "m2", convention = "open", smooth = false, method = "lewiner" }
--     opts: phases = {pore=0, cam=1, ise=2} or {0, 1, 2} (default: every label present);
--           convention = "open" (no padding: scikit-image's marching_cubes + mesh_surface_area on the raw
--           indicator) | "closed" (PoreSpy's region_surface_areas: zero padding and the 7-voxel smoothing);
--           smooth = nil (per convention: off when open, on when closed) | true | false;
--           method = "lewiner" | "lorensen"; density = {cam = 4.7e3, ...} in kg/m3 (names or labels);
--           per_gram_of = "cam" (name or label): specific areas per gram of that phase.
--     Interfaces: S_ab = (S_a + S_b - S_{a u b}) / 2 for every pair (interfaces_union); when three phases fill
--     the volume, `interfaces` is the paper's Eq. 1, (S_a + S_b - S_c) / 2, as the peers compute it
--     (interface_formula = "eq1"; else "union" and interfaces = interfaces_union).
--     Specific per volume: area / volume of the whole label volume. A phase absent from the volume has area 0
--     and is listed in `absent`.
--     Triple-phase boundary (TPB), by voxel-edge counting (Wilson et al., Nature Materials 5 (2006) 541; Iwai
--     et al., J. Power Sources 195 (2010) 955): a voxel edge (the segment shared by four voxels) is a TPB edge
--     of phases a, b, c when its four voxels hold all three; its length is the spacing along it.
--       tpb = {["a-b-c"] = m} for every triple of the phases (labels ascending);
--       tpb_length = the TPB length in m: of the one triple when three phases are listed, else of the edges
--         where three or more of the listed phases meet (0 with fewer than three phases);
--       specific.per_volume.tpb_length (m-2, per volume of the whole label volume), per_gram.tpb_length (m/g).
--     Exact for lines along an axis (a straight line along x through the volume: nx * spacing_x); a line along
--     a unit direction u is counted as its staircase, (|ux| + |uy| + |uz|) times longer, 3/2 on average over
--     random directions: tpb_correction = 2/3 estimates an isotropic network's length (default 1: the raw
--     edge length; the factor used is returned as tpb_correction). The convention and smoothing do not change it.
--
--   Sub-voxel surfaces (engine/measure/tg_surfaces_fields.h): marching cubes on hard labels puts every vertex at an
--   edge midpoint, so a smooth interface is measured as its staircase (+8 to +9 % for spheres, +7 to +13 % for planes)
--   and every misclassified boundary voxel of a segmentation adds a bump. Two sources put the vertices where a
--   field that varies smoothly across the interface crosses over:
--     tg.measure.surfaces(prob, {source = "probabilities", phases = {pore = 0, cam = 1, ise = 2}, sigma = 1})
--       prob: the table rf:predict returns (one f32 volume per class, keyed by name and by label value). Named
--       phases are looked up by name when prob has names (the forest's class labels need not be the phases'
--       labels), otherwise by label; without phases, prob's integer keys are the phases.
--     tg.measure.surfaces(labels, {source = "smoothed", sigma = 1})
--       each phase's indicator smoothed by a Gaussian of sigma voxels (default 1) before meshing.
--     sigma: a number or {sx, sy, sz}, voxels (default 1 for both; 0: none). A phase's surface is where its field
--     stops being the largest (of the listed phases' fields and 1 - their sum); a pair's union where the larger of
--     the two stops being the largest, so the union of two of three filling phases is the third's surface: three
--     phases whose fields sum to 1 (within 1e-3) take Eq. 1 (interface_formula = "eq1", interfaces_union the same
--     numbers), others the unions (interface_formula = "union"). Results as for labels, plus source, sigma,
--     soft_voxels = {[label] = sum of the field} (voxels: that sum rounded; for a smoothed indicator the voxel
--     count exactly; per-gram areas use it), sum_error (max |sum of the fields - 1|), nan_voxels; no TPB (tpb = {},
--     tpb_length nil: the TPB is counted on labels). Gaussian smoothing moves a curved interface towards its centre
--     of curvature: a sphere of radius R voxels loses about 2 sigma^2 / R^2 of its area (C tests: within 0.6 % at
--     R = 20, sigma 1), and features thinner than a few sigma (small pores) lose more. Accuracy (tests): a plane at
--     any angle from a linear probability ramp to 2e-5; spheres and cylinders from a smooth probability profile
--     within 1 % at R = 6 to 8 voxels and 0.2 % at R = 20; noisy class probabilities of a sphere and a plane
--     (noise +-0.3 per voxel, argmax labels 20 % too large) within 2 % at sigma = 1. What is left on real
--     segmentations is the segmentation's own error: README "Sub-voxel surfaces" has the figures.
--
--   tg.io.write_mesh (lua/tortuga/io.lua) writes a mesh as PLY or STL.
--
-- Stacks larger than memory. fractions, surfaces, chords, components and percolation also accept a label stack on
-- disk (a tortuga.Stack from tg.io.open: u8, u16 or i32) with the same options plus memory = "2GB" (default:
-- tg.memory()). The stack is read slab by slab (engine/measure/tg_measure_stream.h: the slab height from the budget
-- and each measure's tables; surfaces read their slabs overlapping by one slice, three when smoothed) and the
-- numbers equal the in-memory call's: the same counts, chord histograms, component sizes in scipy's order
-- (slab-wise labelling joined by union-find across slab faces) and bit-identical areas. The result carries
--   streamed = {slab = H slices, slabs, halo, overlap, memory = budget, planned, peak (allocator bytes), passes,
--               voxels, seconds, voxels_per_second, units = "bytes"}.
-- On a stack, chords give the histogram (no `lengths` list; tg.measure.cld reads the histogram) and components give
-- n, sizes and background (no label volume, no bounding boxes). distance, thickness, active_cam and mesh need the
-- volume in memory and say so for a stack (read it, or a part of it: st:read{z = {a, b}}).
--
--   tg.measure.stream(stack, {fractions = {profile = "z"} | true, surfaces = {...} or a list, chords = {...} or a
--                             list, components = ..., percolation = ..., sha256 = true, memory = "2GB",
--                             spacing = {sx, sy, sz} (m; default: the stack's)})
--     --> {total, counts = {[label] = n}, sha256, fractions, surfaces, chords, components, percolation, streamed}
--     Every measure asked in ONE pass over the stack (each slice decoded once): each entry takes the options of the
--     call of that name and gives its result (a list of option tables gives a list of results). A surfaces entry
--     without phases first counts the labels present (a second pass, counted in streamed.passes).
local core = require "tortuga.core"
local util = require "tortuga.util"
local error = util.error -- messages blame the caller outside the library
local volume = require "tortuga.volume"
local tio = require "tortuga.io"

local M = {}
local NIL = util.NIL
local AXES = { x = 0, y = 1, z = 2 }

local function check_labels(v, where, what)
  if not volume.is_volume(v) then
    error(where .. ": expected " .. (what or "a label volume") .. " or a stack (tg.io.open), got " .. type(v), 3)
  end
  if v.dtype ~= "u8" and v.dtype ~= "u16" and v.dtype ~= "i32" then
    error(where .. ": " .. (what or "labels") .. " must be an integer volume (u8, u16, i32), got " .. v.dtype, 3)
  end
end

local function check_axis(a, where, allow_all)
  if AXES[a] or (allow_all and a == "all") then return a end
  error(string.format("%s: axis must be \"x\", \"y\" or \"z\"%s, got %s", where, allow_all and " (or \"all\")" or "",
    tostring(a)), 3)
end

local function check_phase(p, where)
  if math.type(p) ~= "integer" then
    error(where .. ": option 'phase' (the label value) is required and must be an integer, got " .. tostring(p), 3)
  end
  return p
end

local function check_conn(c, where)
  if c ~= 6 and c ~= 18 and c ~= 26 then
    error(where .. ": connectivity must be 6, 18 or 26, got " .. tostring(c), 3)
  end
  return c
end

-- The mask of an operation: the volume itself, or labels:eq(phase) when a phase is given.
local function mask_of(v, phase, where)
  check_labels(v, where, phase and "a label volume" or "a mask (integer volume, nonzero = in)")
  if phase ~= nil then return v:eq(check_phase(phase, where)) end
  return v
end

--- Per-slice counts of every label along an axis: {[label] = {n1, n2, ...}}.
local function profile_counts(labels, axis)
  local dims = { labels:dims() }
  local n = dims[AXES[axis] + 1]
  local out = {}
  for label in pairs(labels:counts()) do out[label] = {} end
  for k = 1, n do
    local c = labels:view { [axis] = { k, k } }:counts()
    for label, t in pairs(out) do t[k] = c[label] or 0 end
  end
  return out
end

-- tg.measure.<name> on a tortuga.Stack: one streamed pass (M.stream) with that one measure, its result and `streamed`.
local function on_stack(name, stack, opts, where)
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  local memory = o.memory
  o.memory = nil
  local r = M.stream(stack, { [name] = o, memory = memory, what = where })
  local out = r[name]
  out.streamed = r.streamed
  return out
end

-- The measures that need the whole volume at once say so for a stack.
local function whole_volume(v, where)
  if tio.is_stack(v) then
    error(where .. ": needs the volume in memory (it is not streamed): read the stack (st:read()) or a part of it " ..
          "(st:read{z = {first, last}})", 3)
  end
end

-- Fractions (and profile) from the counts of every label: labels:counts() in memory, the stream's on a stack.
local function fractions_of(counts, dims, o, prof)
  local out
  if o.profile ~= nil then
    local n = dims[AXES[o.profile] + 1]
    local per_slice = dims[1] * dims[2] * dims[3] / n
    out = { axis = o.profile, units = "1" }
    for label in pairs(counts) do
      out[label] = {}
      local c = prof[label]
      for k = 1, n do out[label][k] = c[k] / per_slice end
    end
  else
    local total = dims[1] * dims[2] * dims[3]
    out = { units = "1" }
    for label, n in pairs(counts) do out[label] = n / total end
  end
  if o.phases ~= nil then
    if type(o.phases) ~= "table" then
      error("tg.measure.fractions: phases must be a table {name = label}, got " .. type(o.phases), 2)
    end
    for name, label in pairs(o.phases) do
      if type(name) ~= "string" or math.type(label) ~= "integer" then
        error(string.format("tg.measure.fractions: phases must map names to integer labels, got %s = %s", tostring(name),
          tostring(label)), 2)
      end
    end
    out.by_name = {}
    local zeros = {}
    if o.profile then
      for k = 1, dims[AXES[o.profile] + 1] do zeros[k] = 0.0 end
    end
    for name, label in pairs(o.phases) do out.by_name[name] = out[label] or (o.profile and zeros or 0.0) end
  end
  return out
end

local function check_fraction_opts(opts, where)
  local o = util.options(opts, { phases = NIL, profile = NIL, memory = NIL }, where)
  if o.profile ~= nil and not AXES[o.profile] then
    error(where .. ": profile must be \"x\", \"y\" or \"z\", got " .. tostring(o.profile), 3)
  end
  return o
end

function M.fractions(labels, opts)
  if tio.is_stack(labels) then return on_stack("fractions", labels, opts, "tg.measure.fractions") end
  if not volume.is_volume(labels) then error("tg.measure.fractions: expected a label volume or a stack, got " .. type(labels), 2) end
  local o = check_fraction_opts(opts, "tg.measure.fractions")
  if o.memory ~= nil then error("tg.measure.fractions: unknown option 'memory' (it applies to a stack)", 2) end
  if labels.dtype ~= "u8" and labels.dtype ~= "u16" and labels.dtype ~= "i32" then
    error("tg.measure.fractions: labels must be an integer volume (u8, u16, i32), got " .. labels.dtype, 2)
  end
  return fractions_of(labels:counts(), { labels:dims() }, o, o.profile and profile_counts(labels, o.profile))
end

local TRIMS = { faces = "faces", ends = "ends", [false] = "none" }

local function check_chord_opts(opts, where)
  local o = util.options(opts, { phase = NIL, axis = "z", spacing = 2, trim = "faces", memory = NIL }, where)
  check_phase(o.phase, where)
  check_axis(o.axis, where, true)
  if math.type(o.spacing) ~= "integer" or o.spacing < 0 then
    error(where .. ": spacing (empty lines between chord lines) must be an integer >= 0, got " .. tostring(o.spacing), 3)
  end
  if TRIMS[o.trim] == nil then
    error(where .. ": trim must be \"faces\", \"ends\" or false, got " .. tostring(o.trim), 3)
  end
  return o
end

-- The chords result of each axis (one(axis) -> the engine's table), shaped as tg.measure.chords returns it.
local function chords_shape(o, one)
  local function shaped(axis)
    local r = one(axis)
    r.phase, r.axis, r.spacing, r.trim, r.units = o.phase, axis, o.spacing, o.trim, "m"
    return r
  end
  if o.axis ~= "all" then return shaped(o.axis) end
  return { x = shaped("x"), y = shaped("y"), z = shaped("z"), phase = o.phase, axis = "all", spacing = o.spacing,
           trim = o.trim, units = "m" }
end

function M.chords(labels, opts)
  local where = "tg.measure.chords"
  if tio.is_stack(labels) then return on_stack("chords", labels, opts, where) end
  check_labels(labels, where)
  local o = check_chord_opts(opts, where)
  if o.memory ~= nil then error(where .. ": unknown option 'memory' (it applies to a stack)", 2) end
  return chords_shape(o, function(axis) return core.measure.chords(labels, o.phase, AXES[axis], o.spacing, TRIMS[o.trim]) end)
end

-- Distinct chord lengths (ascending) and their counts, from a chords result or a plain list of lengths.
local function length_counts(c)
  local values, counts = {}, {}
  if type(c.histogram) == "table" and type(c.voxel_length) == "number" then
    for l = 1, #c.histogram do
      if c.histogram[l] > 0 then
        values[#values + 1] = l * c.voxel_length
        counts[#counts + 1] = c.histogram[l]
      end
    end
    return values, counts
  end
  local list = c.lengths or c
  local by = {}
  for i = 1, #list do
    local v = list[i]
    if type(v) ~= "number" or v ~= v or v <= 0 then
      error("tg.measure.cld: chord lengths must be positive numbers, got " .. tostring(v) .. " at " .. i, 3)
    end
    by[v] = (by[v] or 0) + 1
  end
  for v in pairs(by) do values[#values + 1] = v end
  table.sort(values)
  for i, v in ipairs(values) do counts[i] = by[v] end
  return values, counts
end

-- np.linspace(lo, hi, n + 1) as numpy computes it (i * step + lo, last = hi).
local function linspace(lo, hi, n)
  local e, step = {}, (hi - lo) / n
  for i = 0, n do e[i + 1] = i * step + lo end
  e[n + 1] = hi
  return e
end

-- Bin index of x in edges (np.histogram: [e_i, e_i+1), the last bin closed), or nil outside.
local function bin_of(edges, x)
  local nb = #edges - 1
  if x < edges[1] or x > edges[nb + 1] then return nil end
  if x == edges[nb + 1] then return nb end
  local lo, hi = 1, nb
  while lo < hi do
    local mid = (lo + hi + 1) // 2
    if edges[mid] <= x then lo = mid else hi = mid - 1 end
  end
  return lo
end

local function median(values, counts, n)
  local function kth(k) -- 1-based k-th smallest
    local acc = 0
    for i, v in ipairs(values) do
      acc = acc + counts[i]
      if acc >= k then return v end
    end
  end
  if n % 2 == 1 then return kth((n + 1) // 2) end
  return 0.5 * (kth(n // 2) + kth(n // 2 + 1))
end

function M.cld(chords, opts)
  local where = "tg.measure.cld"
  if type(chords) ~= "table" then error(where .. ": expected the result of tg.measure.chords or a list of lengths", 2) end
  local o = util.options(opts, { bins = NIL, log = false, weight = "count" }, where)
  if o.weight ~= "count" and o.weight ~= "length" then
    error(where .. ": weight must be \"count\" or \"length\", got " .. tostring(o.weight), 2)
  end
  if chords.axis == "all" then
    return { x = M.cld(chords.x, opts), y = M.cld(chords.y, opts), z = M.cld(chords.z, opts), axis = "all" }
  end
  local values, counts = length_counts(chords)
  local n = 0
  for _, c in ipairs(counts) do n = n + c end
  local out = { n = n, weight = o.weight, log = o.log, units = "m", pdf = {}, relfreq = {}, cdf = {},
                bin_centers = {}, bin_edges = {}, bin_widths = {}, mean = 0.0, median = 0.0, mean_length_weighted = 0.0,
                phase = chords.phase, axis = chords.axis }
  if n == 0 then return out end
  local sum, sum2 = 0.0, 0.0
  for i, v in ipairs(values) do
    sum = sum + v * counts[i]
    sum2 = sum2 + v * v * counts[i]
  end
  out.mean, out.mean_length_weighted, out.median = sum / n, sum2 / sum, median(values, counts, n)
  local xs = {}
  for i, v in ipairs(values) do xs[i] = o.log and math.log(v, 10) or v end
  local edges
  if type(o.bins) == "table" then
    edges = o.bins
    for i = 2, #edges do
      if not (edges[i] > edges[i - 1]) then error(where .. ": bin edges must increase", 2) end
    end
    if #edges < 2 then error(where .. ": bins as a table needs at least two edges", 2) end
  elseif o.bins == nil and not o.log then
    if type(chords.voxel_length) ~= "number" then
      error(where .. ": bins = nil needs the result of tg.measure.chords (it knows the voxel length); give bins = N", 2)
    end
    edges = {}
    local maxv = math.floor(values[#values] / chords.voxel_length + 0.5)
    for i = 0, maxv + 1 do edges[i + 1] = i * chords.voxel_length end
  else
    local nb = o.bins or 10
    if math.type(nb) ~= "integer" or nb < 1 then error(where .. ": bins must be a positive integer or a table of edges", 2) end
    local lo, hi = xs[1], xs[#xs]
    if lo == hi then lo, hi = lo - 0.5, hi + 0.5 end
    edges = linspace(lo, hi, nb)
  end
  local nb = #edges - 1
  local h = {}
  for i = 1, nb do h[i] = 0.0 end
  for i, x in ipairs(xs) do
    local b = bin_of(edges, x)
    if b then h[b] = h[b] + counts[i] end
  end
  for i = 1, nb do
    out.bin_edges[i] = edges[i]
    out.bin_widths[i] = edges[i + 1] - edges[i]
    out.bin_centers[i] = 0.5 * (edges[i] + edges[i + 1])
    if o.weight == "length" then h[i] = h[i] * (o.log and 10 ^ out.bin_centers[i] or out.bin_centers[i]) end
  end
  out.bin_edges[nb + 1] = edges[nb + 1]
  local total = 0.0
  for i = 1, nb do total = total + h[i] end
  for i = 1, nb do
    out.pdf[i] = total > 0 and h[i] / total / out.bin_widths[i] or 0.0
    out.relfreq[i] = out.pdf[i] * out.bin_widths[i]
  end
  local acc = 0.0
  for i = nb, 1, -1 do
    acc = acc + out.relfreq[i]
    out.cdf[i] = acc
  end
  out[o.log and "LogL" or "L"] = out.bin_centers
  return out
end

local function check_component_opts(opts, where)
  local o = util.options(opts, { connectivity = 6, phase = NIL, memory = NIL }, where)
  check_conn(o.connectivity, where)
  if o.phase ~= nil then check_phase(o.phase, where) end
  return o
end

function M.components(mask, opts)
  local where = "tg.measure.components"
  if tio.is_stack(mask) then return on_stack("components", mask, opts, where) end
  local o = util.options(opts, { connectivity = 6, phase = NIL }, where)
  check_conn(o.connectivity, where)
  check_labels(mask, where, o.phase ~= nil and "a label volume" or "a mask (integer volume, nonzero = in)")
  if o.phase ~= nil then check_phase(o.phase, where) end
  local labels, n, sizes, bboxes = core.measure.components(mask, o.connectivity, o.phase)
  return { labels = labels, n = n, sizes = sizes, bboxes = bboxes, connectivity = o.connectivity, phase = o.phase }
end

local function check_percolation_opts(opts, where)
  local o = util.options(opts, { phase = NIL, axis = "z", connectivity = 6, memory = NIL }, where)
  check_phase(o.phase, where)
  check_axis(o.axis, where)
  check_conn(o.connectivity, where)
  return o
end

-- The engine's percolation counts r shaped as tg.measure.percolation returns them.
local function percolation_shape(r, o)
  local fr, ov = {}, {}
  for k, v in pairs(r.voxels) do
    fr[k] = r.phase_voxels > 0 and v / r.phase_voxels or 0.0
    ov[k] = v / r.total_voxels
  end
  return { fractions = fr, of_volume = ov, voxels = r.voxels, clusters = r.clusters, n_clusters = r.n_clusters,
           phase_fraction = r.phase_voxels / r.total_voxels, phase = o.phase, axis = o.axis,
           connectivity = o.connectivity, units = "1" }
end

function M.percolation(labels, opts)
  local where = "tg.measure.percolation"
  if tio.is_stack(labels) then return on_stack("percolation", labels, opts, where) end
  check_labels(labels, where)
  local o = check_percolation_opts(opts, where)
  if o.memory ~= nil then error(where .. ": unknown option 'memory' (it applies to a stack)", 2) end
  return percolation_shape(core.measure.percolation(labels, o.phase, AXES[o.axis], o.connectivity), o)
end

local REACHES = { 0, 0.5e-6, 1e-6, 2e-6, 4e-6, 8e-6, math.huge }

function M.active_cam(labels, opts)
  local where = "tg.measure.active_cam"
  whole_volume(labels, where)
  check_labels(labels, where)
  local o = util.options(opts, { cam = 1, ise = 2, axis = "z", collector = "first", reach = "2um", connectivity = 6,
                                 distance = false, reaches = NIL }, where)
  check_phase(o.cam, where)
  if math.type(o.ise) ~= "integer" then error(where .. ": option 'ise' (the label value) must be an integer, got " .. tostring(o.ise), 2) end
  if o.cam == o.ise then error(where .. ": 'cam' and 'ise' must be different labels, both are " .. o.cam, 2) end
  check_axis(o.axis, where)
  check_conn(o.connectivity, where)
  if o.collector ~= "first" and o.collector ~= "last" then
    error(where .. ": collector must be \"first\" or \"last\" (the slice along the axis that touches the current collector), got "
      .. tostring(o.collector), 2)
  end
  local function length(v, what)
    if v == math.huge then return v end
    local m, err = util.parse_length(v)
    if not m then error(where .. ": " .. what .. ": " .. err, 3) end
    if not (m >= 0) then error(where .. ": " .. what .. " must be >= 0, got " .. tostring(v), 3) end
    return m
  end
  local reach = length(o.reach, "reach")
  local list = {}
  if o.reaches ~= nil then
    if type(o.reaches) ~= "table" or #o.reaches == 0 then error(where .. ": reaches must be a list of lengths", 2) end
    for i, r in ipairs(o.reaches) do list[i] = length(r, "reaches[" .. i .. "]") end
  else
    for i, r in ipairs(REACHES) do list[i] = r end
  end
  if #list > 63 then error(where .. ": at most 63 reaches, got " .. #list, 2) end
  local all = { reach }
  for i, r in ipairs(list) do all[i + 1] = r end
  local r, dist = core.measure.active_cam(labels, o.cam, o.ise, AXES[o.axis], o.collector == "last", o.connectivity, all,
                                          o.distance)
  local ncam = r.cam_voxels
  local function frac(n, of) return of > 0 and n / of or 0.0 end
  local by = { reach = list, fraction = {} }
  for i = 1, #list do by.fraction[i] = frac(r.reached[i + 1], ncam) end
  local sp = labels:spacing()
  local res = {
    active = frac(r.reached[1], ncam),
    fractions = { electronic = frac(r.cam_electronic, ncam), contact = frac(r.cam_contact, ncam),
                  cluster = frac(r.cam_cluster, ncam), active = frac(r.reached[1], ncam), ionic = frac(r.ise_ionic, r.ise_voxels) },
    by_reach = by, reach = reach,
    interface = { faces = r.faces_cam_ise, connected = r.faces_connected,
                  connected_fraction = frac(r.faces_connected, r.faces_cam_ise) },
    voxels = { cam = ncam, ise = r.ise_voxels, electronic = r.cam_electronic, ionic = r.ise_ionic, contact = r.cam_contact,
               cluster = r.cam_cluster, active = r.reached[1] },
    cam = o.cam, ise = o.ise, axis = o.axis, collector = o.collector, separator = o.collector == "first" and "last" or "first",
    connectivity = o.connectivity, sweeps = r.sweeps, max_distance = r.max_distance, units = "1",
    convention = "CAM cluster touching the collector face and within a geodesic reach (through CAM, 26-neighbour " ..
                 "chamfer) of a face shared with ISE whose cluster touches the separator face",
    distance = dist,
  }
  if sp[1] == 1 and sp[2] == 1 and sp[3] == 1 then
    res.notes = { "the volume has no spacing (1 m voxels): give reach in voxels (reach = 20) or set the spacing" }
  end
  return res
end

function M.distance(mask, opts)
  local where = "tg.measure.distance"
  whole_volume(mask, where)
  local o = util.options(opts, { phase = NIL, dtype = "f64", squared = false }, where)
  if o.dtype ~= "f64" and o.dtype ~= "f32" then error(where .. ": dtype must be \"f64\" or \"f32\", got " .. tostring(o.dtype), 2) end
  return core.measure.distance(mask_of(mask, o.phase, where), o.dtype, o.squared)
end

function M.thickness(mask, opts)
  local where = "tg.measure.thickness"
  whole_volume(mask, where)
  local o = util.options(opts, { phase = NIL, bins = 32 }, where)
  if math.type(o.bins) ~= "integer" or o.bins < 1 then error(where .. ": bins must be a positive integer", 2) end
  local map = core.measure.thickness(mask_of(mask, o.phase, where))
  local q = core.measure.quantiles(map, { 0.1, 0.5, 0.9 })
  local s = map:stats()
  local nx, ny, nz = map:dims()
  local total = nx * ny * nz
  local out = { map = map, d10 = q[1], d50 = q[2], d90 = q[3], max = s.max, mean = 0.0, units = "m", phase = o.phase,
                distribution = { bin_edges = {}, bin_centers = {}, fraction = {}, pdf = {} } }
  if s.max <= 0 then return out end
  local h = map:histogram { bins = o.bins, range = { 0, s.max } }
  -- background voxels (0) fall in the first bin: take them out
  local positive = map:threshold(1e-30):counts()[1] or 0
  h.counts[1] = h.counts[1] - (total - positive)
  out.mean = s.mean * total / positive
  local d = out.distribution
  for i = 1, o.bins do
    local w = h.edges[i + 1] - h.edges[i]
    d.bin_edges[i], d.bin_centers[i] = h.edges[i], 0.5 * (h.edges[i] + h.edges[i + 1])
    d.fraction[i] = h.counts[i] / positive
    d.pdf[i] = d.fraction[i] / w
  end
  d.bin_edges[o.bins + 1] = h.edges[o.bins + 1]
  return out
end

-- ---- marching cubes and surface areas ----

function M.mesh(labels, phase, opts)
  local where = "tg.measure.mesh"
  whole_volume(labels, where)
  check_labels(labels, where)
  if math.type(phase) ~= "integer" then
    error(string.format("%s: phase must be an integer label value, got %s", where, tostring(phase)), 2)
  end
  local o = util.options(opts, { smooth = false, closed = false, method = "lewiner" }, where)
  if o.method ~= "lewiner" and o.method ~= "lorensen" then
    error(string.format("%s: method must be \"lewiner\" or \"lorensen\", got %s", where, tostring(o.method)), 2)
  end
  return core.measure.mcubes(labels, phase, o.method, o.closed and true or false, o.smooth and true or false)
end

-- phases option -> ordered list of labels and a label -> name map; labels (a volume, or a function giving the counts
-- of a stack) gives the labels present when phases is nil
local function phase_list(labels, phases, where)
  local list, names = {}, {}
  if phases == nil then
    for label in pairs(type(labels) == "function" and labels() or labels:counts()) do list[#list + 1] = label end
    table.sort(list)
  elseif type(phases) == "table" then
    for k, v in pairs(phases) do
      if type(k) == "string" then
        if math.type(v) ~= "integer" then error(string.format("%s: phase '%s' must be an integer label, got %s", where, k, tostring(v)), 4) end
        list[#list + 1] = v
        names[v] = k
      elseif math.type(v) == "integer" then
        list[#list + 1] = v
      else
        error(string.format("%s: phases must map names to integer labels, got %s", where, tostring(v)), 4)
      end
    end
    table.sort(list)
  else
    error(string.format("%s: phases must be a table, got %s", where, type(phases)), 4)
  end
  if #list == 0 then error(where .. ": no phases to measure", 4) end
  if #list > 8 then error(string.format("%s: at most 8 phases at once, got %d", where, #list), 4) end
  for i = 2, #list do
    if list[i] == list[i - 1] then error(string.format("%s: label %d is listed twice", where, list[i]), 4) end
  end
  return list, names
end

-- a name or label -> label
local function resolve(key, names, list, where, what)
  if math.type(key) == "integer" then
    for _, l in ipairs(list) do if l == key then return l end end
  else
    for label, name in pairs(names) do if name == key then return label end end
  end
  error(string.format("%s: %s '%s' is not one of the phases", where, what, tostring(key)), 4)
end

local specific -- per volume and per gram (below)

-- opts.sigma -> {sx, sy, sz} in voxels (a number, or a list of three), default `default`
local function sigma_of(sigma, default, where)
  if sigma == nil then return { default, default, default } end
  local t = type(sigma) == "table" and sigma or { sigma, sigma, sigma }
  if #t ~= 3 then error(string.format("%s: sigma must be a number or {sx, sy, sz} (voxels)", where), 4) end
  for k = 1, 3 do
    if type(t[k]) ~= "number" or not (t[k] >= 0) or t[k] == math.huge then
      error(string.format("%s: sigma must be finite and >= 0 (voxels), got %s", where, tostring(t[k])), 4)
    end
  end
  return { t[1], t[2], t[3] }
end

-- the probability volumes of the listed phases, in list order: prob[name] or prob[label] (rf:predict keys both)
local function field_list(prob, list, names, where)
  local fields, named = {}, {}
  for k, v in pairs(prob) do if type(k) == "string" and volume.is_volume(v) then named[#named + 1] = k end end
  table.sort(named)
  for i, label in ipairs(list) do
    local f
    if names[label] and #named > 0 then -- by name only: the forest's class labels need not be the phases' labels
      f = prob[names[label]]
      if not volume.is_volume(f) then
        error(string.format("%s: no probability volume named %s (the probabilities are keyed %s)", where, names[label],
          table.concat(named, ", ")), 4)
      end
    else
      f = prob[label]
    end
    if not volume.is_volume(f) then
      error(string.format("%s: no probability volume for phase %s (keys: the phase names or labels, as rf:predict " ..
        "returns them)", where, tostring(names[label] or label)), 4)
    end
    if f.dtype ~= "f32" and f.dtype ~= "f64" then
      error(string.format("%s: the probabilities of %s must be f32 or f64, got %s", where, tostring(names[label] or label),
        f.dtype), 4)
    end
    fields[i] = f
  end
  return fields
end

-- phases of a probability table without a phases option: its integer keys
local function prob_phases(prob)
  local list = {}
  for k, v in pairs(prob) do
    if math.type(k) == "integer" and volume.is_volume(v) then list[#list + 1] = k end
  end
  table.sort(list)
  return list
end

-- the sub-voxel sources: "smoothed" (labels) and "probabilities" (fields), see the module doc
local function field_surfaces(input, o, where)
  local src = o.source
  if o.smooth ~= nil then error(where .. ": smooth is for source = \"labels\"; use sigma with " .. src, 3) end
  if o.tpb_correction ~= 1.0 then error(where .. ": the TPB is counted on labels only (source = \"labels\")", 3) end
  local list, names, r, sigma
  if src == "probabilities" then
    if type(input) ~= "table" or volume.is_volume(input) then
      error(where .. ": source = \"probabilities\" takes the table of class probabilities rf:predict returns, got " ..
        (volume.is_volume(input) and "a volume" or type(input)), 3)
    end
    list, names = phase_list(nil, o.phases or prob_phases(input), where)
    sigma = sigma_of(o.sigma, 1.0, where)
    input = field_list(input, list, names, where)
  else
    check_labels(input, where)
    list, names = phase_list(input, o.phases, where)
    sigma = sigma_of(o.sigma, 1.0, where)
  end
  -- three phases whose fields sum to 1: the union of two is the third's surface (argmax rule), so Eq. 1 needs
  -- only the three surfaces (half the work); otherwise (or when the sum is off by more than 1e-3) the unions
  local function run(unions)
    return core.measure.surfaces_fields(input, src == "smoothed" and list or nil, o.convention, o.method, sigma, 4.0, 0.5,
                                        unions, true)
  end
  r = run(#list ~= 3)
  if #list == 3 and not (r.sum_error <= 1e-3) then r = run(true) end
  local out = { phases = {}, interfaces = {}, interfaces_union = {}, voxels = {}, soft_voxels = {}, absent = {},
                names = names, units = "m2", convention = o.convention, method = o.method, source = src, sigma = sigma,
                interface_formula = r.interface_formula == "eq1" and "eq1" or "union", sum_error = r.sum_error,
                nan_voxels = r.nan_voxels, tpb = {} }
  for i, label in ipairs(list) do
    out.phases[label] = r.area[i]
    out.soft_voxels[label] = r.soft_voxels[i]
    out.voxels[label] = math.floor(r.soft_voxels[i] + 0.5)
    if out.voxels[label] == 0 then out.absent[#out.absent + 1] = label end
  end
  for i = 1, #list do
    for j = i + 1, #list do
      local key = list[i] .. "-" .. list[j]
      out.interfaces[key] = r.interface[i][j]
      out.interfaces_union[key] = r.interface[i][j]
    end
  end
  return out, r, list, names
end

-- The options of tg.measure.surfaces checked, with the phases resolved (labels: the label volume, or a function
-- giving the counts of a stack, asked only when phases is nil; stream: the labels are a stack's):
-- p = {o, list, names, smooth, per_gram_label, density_kg}, and for the sub-voxel sources out and r, the result.
local function surfaces_plan(labels, opts, where, stream)
  local o = util.options(opts, { phases = util.NIL, convention = "open", smooth = util.NIL, method = "lewiner",
                                 density = util.NIL, per_gram_of = util.NIL, tpb_correction = 1.0, source = "labels",
                                 sigma = util.NIL, memory = util.NIL }, where)
  if o.source ~= "labels" and o.source ~= "smoothed" and o.source ~= "probabilities" then
    error(string.format("%s: source must be \"labels\", \"smoothed\" or \"probabilities\", got %s", where,
      tostring(o.source)), 3)
  end
  if o.source == "labels" then
    if not stream then check_labels(labels, where) end
    if o.sigma ~= nil then error(where .. ": sigma is for source = \"smoothed\" or \"probabilities\"", 3) end
  elseif stream then
    error(string.format("%s: source = \"%s\" needs the volume in memory (it is not streamed): read the stack " ..
      "(st:read()) or a part of it", where, o.source), 3)
  end
  if type(o.tpb_correction) ~= "number" or not (o.tpb_correction > 0) or o.tpb_correction == math.huge then
    error(string.format("%s: tpb_correction must be a positive number, got %s", where, tostring(o.tpb_correction)), 3)
  end
  if o.convention ~= "open" and o.convention ~= "closed" then
    error(string.format("%s: convention must be \"open\" or \"closed\", got %s", where, tostring(o.convention)), 3)
  end
  if o.method ~= "lewiner" and o.method ~= "lorensen" then
    error(string.format("%s: method must be \"lewiner\" or \"lorensen\", got %s", where, tostring(o.method)), 3)
  end
  local p = { o = o, smooth = o.smooth }
  if p.smooth == nil then p.smooth = o.convention == "closed" end
  if o.source ~= "labels" then
    if o.phases ~= nil and type(o.phases) ~= "table" then
      error(string.format("%s: phases must be a table, got %s", where, type(o.phases)), 3)
    end
    p.out, p.r, p.list, p.names = field_surfaces(labels, o, where)
  else
    p.list, p.names = phase_list(labels, o.phases, where)
  end
  local names, list = p.names, p.list
  if o.per_gram_of ~= nil then
    p.per_gram_label = resolve(o.per_gram_of, names, list, where, "per_gram_of")
    if type(o.density) ~= "table" then
      error(string.format("%s: per_gram_of = '%s' needs density = {%s = kg/m3}", where, tostring(o.per_gram_of),
        tostring(names[p.per_gram_label] or p.per_gram_label)), 3)
    end
    p.density_kg = o.density[names[p.per_gram_label] or false] or o.density[p.per_gram_label]
    if type(p.density_kg) ~= "number" or p.density_kg <= 0 then
      error(string.format("%s: density of '%s' is missing or not positive (kg/m3)", where,
        tostring(names[p.per_gram_label] or p.per_gram_label)), 3)
    end
  end
  return p
end

-- The engine's areas r of labels (core.measure.surfaces, or one of core.measure.stream's) shaped as
-- tg.measure.surfaces returns them.
local function surfaces_shape(r, p)
  local o, list, names, smooth = p.o, p.list, p.names, p.smooth
  local out = { phases = {}, interfaces = {}, voxels = {}, absent = {}, names = names, units = "m2", source = "labels",
                convention = o.convention, smooth = smooth, method = o.method }
  for i, label in ipairs(list) do
    out.phases[label] = r.area[i]
    out.voxels[label] = r.voxels[i]
    if r.voxels[i] == 0 then out.absent[#out.absent + 1] = label end
  end
  -- Three phases filling the volume: the paper's Eq. 1, S_ab = (S_a + S_b - S_c) / 2, as the peers compute it.
  -- Otherwise (and always in interfaces_union) the general form with the union's own surface. The two differ
  -- where ambiguous cubes are resolved: a tie joins the corners inside the meshed set, and the union and the
  -- third phase are complements of each other.
  local filled = 0
  for _, n in pairs(out.voxels) do filled = filled + n end
  local eq1 = #list == 3 and filled == r.total_voxels
  out.interfaces_union = {}
  for i = 1, #list do
    for j = i + 1, #list do
      local key = list[i] .. "-" .. list[j]
      out.interfaces_union[key] = r.interface[i][j]
      if eq1 then
        local k = 6 - i - j
        out.interfaces[key] = math.max(0.0, 0.5 * (r.area[i] + r.area[j] - r.area[k]))
      else
        out.interfaces[key] = r.interface[i][j]
      end
    end
  end
  out.interface_formula = eq1 and "eq1" or "union"
  -- triples in the engine's order: indices i < j < k of the sorted label list
  out.tpb = {}
  local t = 0
  for i = 1, #list do
    for j = i + 1, #list do
      for k = j + 1, #list do
        t = t + 1
        out.tpb[list[i] .. "-" .. list[j] .. "-" .. list[k]] = r.tpb[t] * o.tpb_correction
      end
    end
  end
  out.tpb_length = (#list == 3 and r.tpb[1] or #list > 3 and r.tpb_any or 0.0) * o.tpb_correction
  out.tpb_correction = o.tpb_correction
  out.tpb_units = "m"
  return specific(out, r, o, list, names, p.per_gram_label, p.density_kg)
end

function M.surfaces(labels, opts)
  local where = "tg.measure.surfaces"
  if tio.is_stack(labels) then return on_stack("surfaces", labels, opts, where) end
  local p = surfaces_plan(labels, opts, where)
  if p.o.memory ~= nil then error(where .. ": unknown option 'memory' (it applies to a stack)", 2) end
  if p.out then return specific(p.out, p.r, p.o, p.list, p.names, p.per_gram_label, p.density_kg) end
  return surfaces_shape(core.measure.surfaces(labels, p.list, p.o.convention, p.smooth, p.o.method), p)
end

-- per volume and per gram (the grams from the phase's voxels: for the field sources, the sum of its field)
specific = function(out, r, o, list, names, per_gram_label, density_kg)
  local pv = { phases = {}, interfaces = {}, units = "m-1", tpb_length = out.tpb_length and out.tpb_length / r.volume,
               tpb_units = out.tpb_length and "m-2" or nil }
  for k, a in pairs(out.phases) do pv.phases[k] = a / r.volume end
  for k, a in pairs(out.interfaces) do pv.interfaces[k] = a / r.volume end
  out.specific = { per_volume = pv }
  if per_gram_label then
    local n = out.soft_voxels and out.soft_voxels[per_gram_label] or out.voxels[per_gram_label]
    local grams = n * (r.volume / r.total_voxels) * density_kg * 1e3
    local pg = { phases = {}, interfaces = {}, units = "m2/g", of = names[per_gram_label] or per_gram_label, grams = grams,
                 tpb_length = out.tpb_length and (grams > 0 and out.tpb_length / grams or 0.0),
                 tpb_units = out.tpb_length and "m/g" or nil }
    for k, a in pairs(out.phases) do pg.phases[k] = grams > 0 and a / grams or 0.0 end
    for k, a in pairs(out.interfaces) do pg.interfaces[k] = grams > 0 and a / grams or 0.0 end
    out.specific.per_gram = pg
  end
  return out
end


-- ---- stacks larger than memory: every streamable measure in one pass ----

-- An entry of tg.measure.stream: nil, true (defaults), one options table, or a list of them.
local function entries(v, where, name)
  if v == nil or v == false then return {}, false end
  if v == true then return { {} }, false end
  if type(v) ~= "table" then error(string.format("%s: %s must be an options table or a list of them, got %s", where, name, type(v)), 3) end
  if v[1] ~= nil then
    for i, e in ipairs(v) do
      if type(e) ~= "table" then error(string.format("%s: %s[%d] must be an options table, got %s", where, name, i, type(e)), 3) end
    end
    return v, true
  end
  return { v }, false
end

-- A measure's own `memory` belongs to the stream call (on_stack moves it there).
local function no_memory(o, where)
  if o.memory ~= nil then error(where .. ": give memory to tg.measure.stream itself, not to one measure", 4) end
end

function M.stream(stack, spec)
  local where = "tg.measure.stream"
  if not tio.is_stack(stack) then
    error(where .. ": expected a stack on disk (tg.io.open), got " .. (volume.is_volume(stack) and "a volume" or type(stack)), 2)
  end
  local o = util.options(spec, { fractions = NIL, sha256 = false, surfaces = NIL, chords = NIL, components = NIL,
                                 percolation = NIL, memory = NIL, what = NIL, spacing = NIL }, where)
  if stack.dtype ~= "u8" and stack.dtype ~= "u16" and stack.dtype ~= "i32" then
    error(string.format("%s: a label stack must hold integers (u8, u16, i32), %s holds %s", where, stack:info().path,
      stack.dtype), 2)
  end
  if o.spacing ~= nil then
    local ok = type(o.spacing) == "table" and #o.spacing == 3
    for i = 1, 3 do ok = ok and type(o.spacing[i]) == "number" and o.spacing[i] > 0 and o.spacing[i] < math.huge end
    if not ok then error(where .. ": spacing must be {sx, sy, sz} in metres (> 0)", 2) end
  end
  local req = { sha256 = o.sha256 and true or false, memory = o.memory, what = o.what or "measure", surfaces = {},
                chords = {}, components = {}, spacing = o.spacing }
  local pre -- the counts pass that finds the labels present, when a surfaces entry has no phases
  local function present()
    if not pre then pre = core.measure.stream(stack, { counts = true, memory = o.memory, what = req.what, spacing = o.spacing }) end
    return pre.counts
  end
  local fo
  if o.fractions then
    fo = check_fraction_opts(o.fractions == true and {} or o.fractions, where .. " fractions")
    no_memory(fo, where)
    req.counts = true
    req.profile = fo.profile and AXES[fo.profile] or nil
  end
  local surf, surf_list = entries(o.surfaces, where, "surfaces")
  local splans = {}
  for i, e in ipairs(surf) do
    local p = surfaces_plan(present, e, where .. " surfaces", true)
    no_memory(p.o, where)
    splans[i] = p
    req.surfaces[i] = { labels = p.list, convention = p.o.convention, smooth = p.smooth, method = p.o.method }
  end
  local chords, chords_list = entries(o.chords, where, "chords")
  local cplans = {}
  for i, e in ipairs(chords) do
    local c = check_chord_opts(e, where .. " chords")
    no_memory(c, where)
    local idx = {}
    for _, ax in ipairs(c.axis == "all" and { "x", "y", "z" } or { c.axis }) do
      req.chords[#req.chords + 1] = { phase = c.phase, axis = AXES[ax], spacing = c.spacing, trim = TRIMS[c.trim] }
      idx[ax] = #req.chords
    end
    cplans[i] = { o = c, idx = idx }
  end
  local labellings = {} -- components and percolation of one (phase, connectivity) share one labelling
  local function labelling(phase, conn)
    local key = tostring(phase) .. "/" .. conn
    if not labellings[key] then
      req.components[#req.components + 1] = { phase = phase, connectivity = conn }
      labellings[key] = #req.components
    end
    return labellings[key]
  end
  local comps, comps_list = entries(o.components, where, "components")
  local kplans = {}
  for i, e in ipairs(comps) do
    local c = check_component_opts(e, where .. " components")
    no_memory(c, where)
    kplans[i] = { o = c, k = labelling(c.phase, c.connectivity) }
  end
  local percs, percs_list = entries(o.percolation, where, "percolation")
  local pplans = {}
  for i, e in ipairs(percs) do
    local c = check_percolation_opts(e, where .. " percolation")
    no_memory(c, where)
    pplans[i] = { o = c, k = labelling(c.phase, c.connectivity) }
  end

  local r = core.measure.stream(stack, req)
  local out = { total = r.total, counts = r.counts, sha256 = r.sha256, streamed = r.streamed }
  if pre then -- two passes: say so
    local s, q = out.streamed, pre.streamed
    s.passes, s.slabs, s.seconds = s.passes + q.passes, s.slabs + q.slabs, s.seconds + q.seconds
    s.voxels, s.peak, s.planned = s.voxels + q.voxels, math.max(s.peak, q.peak), math.max(s.planned, q.planned)
    s.voxels_per_second = s.seconds > 0 and s.voxels / s.seconds or 0.0
  end
  if fo then out.fractions = fractions_of(r.counts, { stack:dims() }, fo, r.profile) end
  local function one_or_list(list, is_list) if is_list then return list end return list[1] end
  local res = {}
  for i, p in ipairs(splans) do res[i] = surfaces_shape(r.surfaces[i], p) end
  out.surfaces = one_or_list(res, surf_list)
  res = {}
  for i, p in ipairs(cplans) do
    res[i] = chords_shape(p.o, function(ax) return r.chords[p.idx[ax]] end)
  end
  out.chords = one_or_list(res, chords_list)
  res = {}
  for i, p in ipairs(kplans) do
    local c = r.components[p.k]
    res[i] = { n = c.n, sizes = c.sizes, background = c.background, connectivity = p.o.connectivity, phase = p.o.phase }
  end
  out.components = one_or_list(res, comps_list)
  res = {}
  for i, p in ipairs(pplans) do res[i] = percolation_shape(r.components[p.k].percolation[p.o.axis], p.o) end
  out.percolation = one_or_list(res, percs_list)
  return out
end

return M
