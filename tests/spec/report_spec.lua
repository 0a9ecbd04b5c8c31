-- tg.report.html: a self-contained page with the expected parts, its figures' numbers embedded, rendered by
-- headless Chromium when installed (the screenshot must not be blank).
local tg = require "tortuga"
local H = test_helper

local function which(exe)
  local p = io.popen("command -v " .. exe .. " 2>/dev/null")
  local s = p and p:read("l")
  if p then p:close() end
  return s and s ~= "" and s or nil
end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function unbase64(s)
  local val = {}
  for i = 1, 64 do val[B64:byte(i)] = i - 1 end
  local out, bits, nbits = {}, 0, 0
  for i = 1, #s do
    local v = val[s:byte(i)]
    if v then
      bits, nbits = (bits << 6) | v, nbits + 6
      if nbits >= 8 then
        nbits = nbits - 8
        out[#out + 1] = string.char((bits >> nbits) & 255)
      end
    end
  end
  return table.concat(out)
end

local function count(s, plain)
  local n, i = 0, 1
  while true do
    local a, b = s:find(plain, i, true)
    if not a then return n end
    n, i = n + 1, b + 1
  end
end

-- a small study: one measured sample with microstructure results, two with measured values only
local function study()
  local phases = { pore = 0, cam = 1, ise = 2 }
  local labels = tg.generate.cathode { size = { 32, 32, 32 }, spacing = 2e-7, cam_d50 = 2e-6, ise_d50 = 2e-6, seed = 5 }
  local f = tg.measure.fractions(labels, { phases = phases })
  local s = tg.measure.surfaces(labels, { phases = phases, density = { cam = 4.7e3, ise = 1.9e3 }, per_gram_of = "cam" })
  local chords = { cam = tg.measure.chords(labels, { phase = 1, axis = "all" }), ise = tg.measure.chords(labels, { phase = 2, axis = "z" }) }
  local tau = { ise = { walk = { tau = { x = 2.1, y = 2.3, z = 2.2, mean = 2.2 } }, flux = 2.5, experiment = 15 },
                cam = { walk = 1.7 } }
  local S = tg.analysis.samples {
    { name = "G1", phases = phases, descriptors = { fractions = f, surfaces = s, tau_ise = { mean = 2.2 } },
      results = { chords = chords, tau = tau, current = labels:astype("f32") },
      images = { { title = "labels", volume = labels, colormap = "labels" } },
      measured = { capacity = "92 mAh/g" } },
    { name = "G2", descriptors = { tau_ise = { mean = 1.9 } }, measured = { capacity = "156 mAh/g" } },
    { name = "G3", descriptors = { tau_ise = { mean = 2.0 } }, measured = { capacity = "152 mAh/g" } },
    { name = "G4", descriptors = { tau_ise = { mean = 2.4 } }, measured = { capacity = "NA" } },
  }
  local c = tg.analysis.correlate(S, { x = "tau_ise.mean", y = "capacity" })
  local m = tg.analysis.matrix(S, { "tau_ise.mean", "capacity" })
  return S, c, m, f, s
end

local function embedded(page)
  local text = page:match('<script type="application/json" id="tortuga%-report%-data">(.-)</script>')
  assert.truthy(text, "the page embeds its data")
  return tg.json.decode((text:gsub("<\\/", "</")))
end

describe("tg.report.html", function()
  local dir = H.tmpdir("report")

  it("writes a self-contained page with every part and the numbers behind its figures", function()
    local S, c, m, f, s = study()
    local path = dir .. "/report.html"
    os.remove(path)
    local out, info = tg.report.html(path, {
      title = "A <small> study", samples = S, correlations = { c, m },
      figures = { { title = "custom", gnuplot = "plot DATA using 1:2 with linespoints title 'line'", data = { { 1, 2 }, { 2, 3 }, { 3, 5 } } } },
      timings = { { stage = "generate", seconds = 1.5 }, { stage = "measure", seconds = 0.25 } },
    })
    assert.equal(path, out)
    local page = assert(read(path))
    assert.truthy(page:find("^<!DOCTYPE html>"))
    assert.truthy(page:find("</html>%s*$"))
    assert.truthy(page:find("A &lt;small&gt; study", 1, true))
    -- self-contained: nothing fetched from anywhere
    assert.is_nil(page:find("http://", 1, true))
    assert.is_nil(page:find("https://", 1, true))
    assert.is_nil(page:find('src="[^d]'))
    assert.is_nil(page:find("url(", 1, true))
    assert.is_nil(page:find("@import", 1, true))
    for _, section in ipairs { "Sample G1", 'class="slices"', "Phase fractions", "Interface areas", "Chord length distributions",
                               "Tortuosity: simulations against experiment", "current density", "Samples", "Correlations",
                               "Correlation matrix", "Time of each stage", "Sample G4", "missing" } do
      assert.truthy(page:find(section, 1, true), "the page has: " .. section)
    end
    -- embedded images are PNGs
    local uris = count(page, 'src="data:image/png;base64,')
    local b64 = page:match('src="data:image/png;base64,([^"]+)"')
    assert.equal("\137PNG\r\n\26\n", unbase64(b64):sub(1, 8))
    -- the figures' numbers read back
    local d = embedded(page)
    assert.relnear(f.by_name.ise, d.samples.G1.fractions.ise, 1e-12)
    assert.relnear(f.by_name.cam, d.samples.G1.fractions.cam, 1e-12)
    local fi = d.figures["sample-1-interfaces"]
    assert.equal("interfaces", fi.kind)
    for i, k in ipairs(fi.keys) do assert.relnear(s.specific.per_gram.interfaces[k], fi.values[i], 1e-12) end
    local ft = d.figures["sample-1-tau"]
    assert.same({ "cam", "ise" }, ft.phases)
    assert.relnear(2.2, ft.walk[2], 1e-12)
    assert.relnear(2.5, ft.flux[2], 1e-12)
    assert.equal(15, ft.experiment[2])
    assert.relnear(1.7, ft.walk[1], 1e-12)
    local fc = d.figures["corr-1"]
    assert.relnear(c.pearson.r, fc.r, 1e-12)
    assert.relnear(c.fit.slope, fc.slope, 1e-12)
    assert.same({ "G1", "G2", "G3" }, fc.points.samples)
    local cld = d.figures["sample-1-cld"]
    assert.equal(2, #cld.series)
    assert.equal("x+y+z", cld.series[1].axis) -- the three axes of CAM pooled
    local total = 0
    for _, v in ipairs(cld.series[1].relfreq) do total = total + v end
    assert.near(1, total, 1e-9)
    assert.equal(c.n, 3)
    assert.equal(1.5, d.timings[1].seconds)
    if which("gnuplot") then
      assert.is_true(info.gnuplot)
      -- slices (labels + current) + interfaces, cld, tau + scatter + matrix + custom
      assert.equal(6, info.figures)
      assert.equal(8, uris)
      assert.same({}, info.warnings)
    end
    -- nothing left behind
    local p = io.popen("ls " .. dir)
    local listing = p:read("a")
    p:close()
    assert.is_nil(listing:find("%.tmp"))
  end)

  it("says clearly when gnuplot is missing and keeps the tables", function()
    local S, c = study()
    local path = dir .. "/no_gnuplot.html"
    local _, info = tg.report.html(path, { samples = S, correlations = c, gnuplot = "/nonexistent/gnuplot" })
    assert.is_false(info.gnuplot)
    assert.equal(0, info.figures)
    local page = read(path)
    assert.truthy(page:find('id="no-gnuplot"', 1, true))
    assert.truthy(page:find("install the Debian package gnuplot-nox", 1, true))
    assert.equal(2, count(page, 'src="data:image/png;base64,')) -- only the slices
    assert.truthy(page:find("Pearson r", 1, true))
    local d = embedded(page)
    assert.relnear(c.pearson.r, d.figures["corr-1"].r, 1e-12)
  end)

  it("works with whatever a sample has, and rejects bad arguments", function()
    local S = tg.analysis.samples { { name = "only", measured = { x = 1 } } }
    local path = dir .. "/minimal.html"
    tg.report.html(path, { samples = S })
    local page = read(path)
    assert.truthy(page:find("measured values only", 1, true))
    tg.report.html(dir .. "/empty.html")
    assert.truthy(read(dir .. "/empty.html"):find("tortuga report", 1, true))
    assert.raises_with(function() tg.report.html(dir .. "/x.html", { samples = 5 }) end, "samples must be a sample set")
    assert.raises_with(function() tg.report.html(dir .. "/x.html", { figures = { { title = "x" } } }) end,
      "figures[1] needs png = path, svg = path or gnuplot = script")
    assert.raises_with(function() tg.report.html(dir .. "/x.html", { titel = "x" }) end, "did you mean 'title'")
    assert.raises_with(function() tg.report.html(dir .. "/no/such/dir/x.html", {}) end, "tg.report.html")
    local bad = tg.report.html(dir .. "/badplot.html", { figures = { { title = "broken", gnuplot = "plot DATA using 1:2 with nonsense" ,
                                                                       data = { { 1, 2 } } } }, gnuplot = which("gnuplot") and nil or false })
    assert.truthy(read(bad):find("broken", 1, true))
  end)

  it("renders in headless Chromium to a non-blank screenshot without console errors", function()
    local chromium = which("chromium") or which("chromium-browser")
    local gnuplot = which("gnuplot")
    if not chromium or not gnuplot then
      pending("needs chromium and gnuplot (Debian chromium, gnuplot-nox)")
      return
    end
    local S, c, m = study()
    local path = dir .. "/render.html"
    tg.report.html(path, { samples = S, correlations = { c, m }, title = "render check" })
    local pwd = io.popen("pwd")
    local abs = path:sub(1, 1) == "/" and path or (pwd:read("l") .. "/" .. path)
    pwd:close()
    local profile = dir .. "/chromium-profile"
    os.execute("rm -rf '" .. profile .. "' && mkdir -p '" .. profile .. "'")
    local shot, log = dir .. "/render.png", dir .. "/chromium.log"
    os.remove(shot)
    local cmd = string.format("timeout 120 %s --headless --no-sandbox --disable-gpu --disable-quic --no-first-run " ..
      "--disable-background-networking --disable-component-update --disable-sync --user-data-dir='%s' " ..
      "--hide-scrollbars --window-size=1280,2400 --enable-logging=stderr --v=0 --screenshot='%s' 'file://%s' > '%s' 2>&1",
      chromium, profile, shot, abs, log)
    os.execute(cmd)
    os.execute("rm -rf '" .. profile .. "'")
    local png = read(shot)
    assert.truthy(png and png:sub(1, 8) == "\137PNG\r\n\26\n", "chromium wrote a PNG screenshot (log: " .. log .. ")")
    local logtext = read(log) or ""
    assert.is_nil(logtext:find("Uncaught", 1, true))
    assert.is_nil(logtext:find("Failed to load resource", 1, true))
    assert.is_nil(logtext:find("Not allowed to load local resource", 1, true))
    -- the pixels, every 8th row and column, through gnuplot's PNG reader
    local tab = dir .. "/render.txt"
    os.execute(string.format("gnuplot -e \"set table '%s'; plot '%s' binary filetype=png every 8:8 with rgbimage; unset table\" 2>/dev/null",
      tab, shot))
    local colours, n, nonwhite = {}, 0, 0
    local ncol = 0
    for line in io.lines(tab) do
      local r, g, b = line:match("^%s*%S+%s+%S+%s+(%d+)%s+(%d+)%s+(%d+)")
      if r then
        n = n + 1
        local key = r .. "," .. g .. "," .. b
        if not colours[key] then colours[key], ncol = true, ncol + 1 end
        if not (tonumber(r) > 240 and tonumber(g) > 240 and tonumber(b) > 240) then nonwhite = nonwhite + 1 end
      end
    end
    os.remove(tab)
    assert.truthy(n > 10000, "read the screenshot's pixels (" .. n .. ")")
    assert.truthy(nonwhite / n > 0.05, string.format("the page is not blank: %.1f %% non-white pixels", 100 * nonwhite / n))
    assert.truthy(ncol > 50, "the page has images and text: " .. ncol .. " colours")
  end)
end)

describe("tg.report.plot", function()
  local dir = test_helper.tmpdir("report_plot")
  it("draws one figure to a PNG of the asked size, and says why when it cannot", function()
    local path = dir .. "/line.png"
    local got, why = tg.report.plot(path, { title = "a line", data = { { 0, 0 }, { 1, 2 }, { 2, 4 } }, size = { 320, 200 },
                                            gnuplot = "plot DATA using 1:2 with lines title 'y = 2x'" })
    if not got and why:find("gnuplot was not found", 1, true) then pending(why) return end
    assert.are.equal(path, got)
    local f = assert(io.open(path, "rb"))
    local bytes = f:read("a")
    f:close()
    assert.are.equal("\137PNG\r\n\26\n", bytes:sub(1, 8))
    local w = string.unpack(">I4", bytes, 17)
    local h = string.unpack(">I4", bytes, 21)
    assert.are.same({ 320, 200 }, { w, h })
    local none, reason = tg.report.plot(dir .. "/x.png", { gnuplot = "plot DATA", gnuplot_exe = "/nonexistent/gnuplot" })
    assert.is_nil(none)
    assert.truthy(reason:find("gnuplot-nox", 1, true))
    local bad, err = tg.report.plot(dir .. "/bad.png", { gnuplot = "plot DATA using 1:2 with nonsense" , data = { { 1, 1 } } })
    assert.is_nil(bad)
    assert.truthy(err:find("gnuplot failed", 1, true))
    assert.is_nil(io.open(dir .. "/bad.png", "rb"))
    assert.raises_with(function() tg.report.plot(path, { data = {} }) end, "option 'gnuplot'")
  end)
end)
