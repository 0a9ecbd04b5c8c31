--- tortuga.analysis.stats — correlations with small-N honesty: Pearson and Spearman with t-distribution and exact
-- permutation p-values, least squares with standard errors (core.analysis.lstsq, LAPACKE), correlation of the
-- variables of a sample set (one pair or a matrix), and their CSV. Part of tg.analysis (the manual, with the
-- result shapes, is lua/tortuga/analysis.lua).
--
--   stats.ranks(xs), stats.pearson(xs, ys [, opts]), stats.spearman(xs, ys [, opts]), stats.lstsq(X, y [, opts]),
--   stats.t_sf(t, df), stats.betainc(a, b, x), stats.correlate(samples, opts), stats.matrix(samples, names [, opts]),
--   stats.correlations_csv(res), stats.write_csv(path, samples_or_results [, columns])
local core = require "tortuga.core"
local util = require "tortuga.util"
local error = util.error -- messages blame the caller outside the library
local json = require "tortuga.json"
local units = require "tortuga.analysis.units"
local files = require "tortuga.analysis.files"
local samples = require "tortuga.analysis.samples"

local M = {}
local NIL = util.NIL
local C = core.analysis
local is_finite = units.is_finite
local is_samples = samples.is_samples
local csv_field, write_text = files.csv_field, files.write_text

local function mean(xs)
  local s = 0
  for i = 1, #xs do s = s + xs[i] end
  return s / #xs
end

local function centred(xs)
  local m, c, ss = mean(xs), {}, 0
  for i = 1, #xs do c[i] = xs[i] - m; ss = ss + c[i] * c[i] end
  return c, ss
end

--- Ranks with ties averaged (scipy.stats.rankdata, method "average").
function M.ranks(xs)
  local idx = {}
  for i = 1, #xs do idx[i] = i end
  table.sort(idx, function(a, b) if xs[a] ~= xs[b] then return xs[a] < xs[b] end return a < b end)
  local r, i = {}, 1
  while i <= #idx do
    local j = i
    while j < #idx and xs[idx[j + 1]] == xs[idx[i]] do j = j + 1 end
    local avg = 0.5 * (i + j)
    for k = i, j do r[idx[k]] = avg end
    i = j + 1
  end
  return r
end

M.t_sf = C.t_sf
M.betainc = C.betainc

-- r from centred values and their sums of squares
local function r_of(xc, xss, yc, yss)
  local s = 0
  for i = 1, #xc do s = s + xc[i] * yc[i] end
  return math.max(-1.0, math.min(1.0, s / math.sqrt(xss * yss)))
end

-- p of the t-distribution for a correlation coefficient r with n samples (scipy's pearsonr / spearmanr)
local function p_t(r, n)
  local df = n - 2
  if math.abs(r) >= 1 then return 0.0 end
  return C.betainc(0.5 * df, 0.5, 1 - r * r)
end

-- Exact two-sided permutation p (scipy.stats.permutation_test, permutation_type = "pairings"): all n!
-- orderings of y (Heap's algorithm), p = min(1, 2 min(P(null <= obs), P(null >= obs))) with scipy's tolerance.
local function p_exact(xc, xss, yc, yss, obs)
  local n = #yc
  local y, c = {}, {}
  for i = 1, n do y[i] = yc[i]; c[i] = 1 end
  local x, den = xc, math.sqrt(xss * yss)
  local gamma = math.max(1e-14, math.abs(1e-14 * obs))
  local less, greater, total = 0, 0, 0
  local function visit()
    local s = 0
    for i = 1, n do s = s + x[i] * y[i] end
    s = s / den
    if s <= obs + gamma then less = less + 1 end
    if s >= obs - gamma then greater = greater + 1 end
    total = total + 1
  end
  visit()
  local i = 1
  while i <= n do
    if c[i] < i then
      if i % 2 == 1 then y[1], y[i] = y[i], y[1] else y[c[i]], y[i] = y[i], y[c[i]] end
      visit()
      c[i] = c[i] + 1
      i = 1
    else
      c[i] = 1
      i = i + 1
    end
  end
  return math.min(1.0, 2 * math.min(less / total, greater / total))
end

local function check_pair(xs, ys, where)
  util.check(type(xs) == "table" and type(ys) == "table", where, "expected two lists of numbers")
  util.check(#xs == #ys, where, "the lists differ in length (%d and %d)", #xs, #ys)
  for i = 1, #xs do
    util.check(is_finite(xs[i]), where, "x[%d] is not a finite number (%s)", i, tostring(xs[i]))
    util.check(is_finite(ys[i]), where, "y[%d] is not a finite number (%s)", i, tostring(ys[i]))
  end
end

local function correlation(xs, ys, permutation, what)
  local n = #xs
  local out, notes = {}, {}
  if n < 3 then
    notes[#notes + 1] = string.format("%s: %d samples; at least 3 are needed for a coefficient with a p-value", what, n)
    return out, notes
  end
  local xc, xn = centred(xs)
  local yc, yn = centred(ys)
  if xn == 0 or yn == 0 then
    notes[#notes + 1] = string.format("%s: %s constant: the coefficient is undefined", what,
      xn == 0 and (yn == 0 and "x and y are" or "x is") or "y is")
    return out, notes
  end
  local r = r_of(xc, xn, yc, yn)
  out.r, out.p_t = r, p_t(r, n)
  local exact = permutation == true or (permutation == "auto" and n <= 8)
  if exact then
    util.check(n <= 10, "tg.analysis", "an exact permutation test over %d! orderings is too long (N <= 10)", n)
    out.p_exact = p_exact(xc, xn, yc, yn, r)
    local orderings = 1
    for k = 2, n do orderings = orderings * k end
    out.p, out.method = out.p_exact, string.format("exact permutation test (%d orderings)", orderings)
  else
    out.p, out.method = out.p_t, "t-distribution, df = " .. (n - 2)
  end
  out.n = n
  return out, notes
end

--- Pearson's r with p-values: {r, p, p_t, p_exact, method, n} (empty with notes when undefined).
function M.pearson(xs, ys, opts)
  check_pair(xs, ys, "tg.analysis.pearson")
  local o = util.options(opts, { permutation = "auto" }, "tg.analysis.pearson")
  return correlation(xs, ys, o.permutation, "pearson")
end

--- Spearman's rho (Pearson on average ranks) with p-values: {rho, p, p_t, p_exact, method, n}.
function M.spearman(xs, ys, opts)
  check_pair(xs, ys, "tg.analysis.spearman")
  local o = util.options(opts, { permutation = "auto" }, "tg.analysis.spearman")
  local r, notes = correlation(M.ranks(xs), M.ranks(ys), o.permutation, "spearman")
  r.rho, r.r = r.r, nil
  return r, notes
end

--- Linear least squares with standard errors (core.analysis.lstsq: LAPACKE QR). X: rows or one list.
function M.lstsq(X, y, opts)
  local o = util.options(opts, { intercept = true }, "tg.analysis.lstsq")
  local r = C.lstsq(X, y, o.intercept) -- misuse raises with the C message ("lstsq: ...") as it is
  return r
end

local function fit_line(xs, ys)
  local notes = {}
  if #xs < 3 then
    notes[1] = string.format("fit: %d samples; a line with standard errors needs at least 3", #xs)
    return {}, notes
  end
  local ok, r = pcall(C.lstsq, xs, ys, true)
  if not ok then
    notes[1] = "fit: " .. tostring(r)
    return {}, notes
  end
  return { slope = r.coef[2], intercept = r.coef[1], se = r.se[2], se_intercept = r.se[1], r2 = r.r2, rss = r.rss,
           sigma2 = r.sigma2, df = r.df, cov = r.cov }, notes
end

local function var_name(v, i)
  if type(v) == "string" then return v end
  return "f" .. i
end

local function correlate_pair(S, xv, yv, o, where)
  local xs, ys, used, excluded = {}, {}, {}, {}
  for _, s in ipairs(S.list) do
    local okx, x = pcall(S.value, S, s, xv)
    if not okx then error(where .. ": " .. tostring(x):gsub("^.-: ", ""), 0) end
    local oky, y = pcall(S.value, S, s, yv)
    if not oky then error(where .. ": " .. tostring(y):gsub("^.-: ", ""), 0) end
    if is_finite(x) and is_finite(y) then
      xs[#xs + 1], ys[#ys + 1], used[#used + 1] = x, y, s.name
    else
      excluded[#excluded + 1] = s.name
    end
  end
  local res = { x = var_name(xv, 1), y = var_name(yv, 2), n = #xs, samples = used, excluded = excluded,
                data = { x = xs, y = ys, samples = used }, notes = {},
                units = { x = S:unit(xv), y = S:unit(yv) } }
  if #excluded > 0 then
    res.notes[#res.notes + 1] = string.format("excluded (missing %s or %s): %s", res.x, res.y, table.concat(excluded, ", "))
  end
  local function add(notes) for _, n in ipairs(notes) do res.notes[#res.notes + 1] = n end end
  local pn
  res.pearson, pn = correlation(xs, ys, o.permutation, "pearson"); add(pn)
  local sp, sn = correlation(M.ranks(xs), M.ranks(ys), o.permutation, "spearman"); add(sn)
  sp.rho, sp.r = sp.r, nil
  res.spearman = sp
  if o.fit then
    local f, fn = fit_line(xs, ys); add(fn)
    res.fit = f
  end
  return res
end

local function as_samples(samples, where)
  if is_samples(samples) then return samples end
  if type(samples) == "table" then
    local ok, S = pcall(samples.samples, samples)
    if ok then return S end
    error(where .. ": " .. tostring(S):gsub("^.-:%d+: ", ""), 3)
  end
  error(where .. ": expected a sample set (tg.analysis.samples) or a list of samples", 3)
end

--- Correlations between variables of a sample set (see the header).
function M.correlate(samples, opts)
  local where = "tg.analysis.correlate"
  local o = util.options(opts, { x = NIL, y = NIL, permutation = "auto", fit = true }, where)
  util.check(o.x ~= nil and o.y ~= nil, where, "give x = variable and y = variable (names, functions or lists of names)")
  util.check(o.permutation == "auto" or o.permutation == true or o.permutation == false, where,
    "permutation must be \"auto\", true or false, got %s", tostring(o.permutation))
  local S = as_samples(samples, where)
  util.check(#S.list > 0, where, "the sample set is empty")
  local function check_var(v, axis)
    util.check(type(v) == "string" or type(v) == "function", where, "%s must be a variable name or a function, got %s", axis, type(v))
    if type(v) == "string" and not S:has(v) then
      local names = {}
      for _, q in ipairs(S:variables()) do names[#names + 1] = q; names[#names + 1] = q:match("^%a+%.(.+)$") end
      local hint = util.suggest(v, names)
      error(string.format("%s: %s = '%s' is not a variable of any sample%s", where, axis, v,
        hint and (" (did you mean '" .. hint .. "'?)") or ""), 3)
    end
  end
  local xl = type(o.x) == "table" and o.x or nil
  local yl = type(o.y) == "table" and o.y or nil
  if not xl and not yl then
    check_var(o.x, "x"); check_var(o.y, "y")
    local ok, r = pcall(correlate_pair, S, o.x, o.y, o, where)
    if not ok then error(r, 2) end
    return r
  end
  xl, yl = xl or { o.x }, yl or { o.y }
  for i, v in ipairs(xl) do check_var(v, "x[" .. i .. "]") end
  for i, v in ipairs(yl) do check_var(v, "y[" .. i .. "]") end
  local m = { x = {}, y = {}, pairs = {}, pearson = { r = {}, p = {} }, spearman = { rho = {}, p = {} }, n = {},
              fit = { slope = {}, se = {} }, kind = "matrix" }
  for i, xv in ipairs(xl) do m.x[i] = var_name(xv, i) end
  for j, yv in ipairs(yl) do m.y[j] = var_name(yv, j) end
  local null = json.null
  for i, xv in ipairs(xl) do
    local xn = m.x[i]
    m.pairs[xn] = m.pairs[xn] or {}
    m.pearson.r[i], m.pearson.p[i], m.spearman.rho[i], m.spearman.p[i], m.n[i] = {}, {}, {}, {}, {}
    m.fit.slope[i], m.fit.se[i] = {}, {}
    for j, yv in ipairs(yl) do
      local ok, r = pcall(correlate_pair, S, xv, yv, o, where)
      if not ok then error(r, 2) end
      m.pairs[xn][m.y[j]] = r
      m.pearson.r[i][j], m.pearson.p[i][j] = r.pearson.r or null, r.pearson.p or null
      m.spearman.rho[i][j], m.spearman.p[i][j] = r.spearman.rho or null, r.spearman.p or null
      m.n[i][j] = r.n
      m.fit.slope[i][j], m.fit.se[i][j] = (r.fit or {}).slope or null, (r.fit or {}).se or null
    end
  end
  return m
end

--- The correlation matrix of `names` against themselves.
function M.matrix(samples, names, opts)
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.x, o.y = names, names
  return M.correlate(samples, o)
end

-- ---------------------------------------------------------------- CSV export

local CORR_HEAD = { "x", "y", "n", "pearson_r", "pearson_p", "pearson_p_t", "pearson_p_exact", "spearman_rho", "spearman_p",
                    "spearman_p_t", "spearman_p_exact", "slope", "slope_se", "intercept", "intercept_se", "r2", "excluded", "notes" }

local function corr_row(r)
  local p, s, f = r.pearson or {}, r.spearman or {}, r.fit or {}
  return { r.x, r.y, r.n, p.r, p.p, p.p_t, p.p_exact, s.rho, s.p, s.p_t, s.p_exact, f.slope, f.se, f.intercept,
           f.se_intercept, f.r2, table.concat(r.excluded or {}, ";"), table.concat(r.notes or {}, "; ") }
end

--- CSV text of a correlation result (one pair, a matrix, or a list of results).
function M.correlations_csv(res)
  local rows = {}
  local function add(r) rows[#rows + 1] = corr_row(r) end
  if res.kind == "matrix" then
    for _, xn in ipairs(res.x) do
      for _, yn in ipairs(res.y) do add(res.pairs[xn][yn]) end
    end
  elseif res.pearson then
    add(res)
  else
    for _, r in ipairs(res) do add(r) end
  end
  local lines = { table.concat(CORR_HEAD, ",") }
  for _, r in ipairs(rows) do
    local f = {}
    for i = 1, #CORR_HEAD do f[i] = csv_field(r[i]) end
    lines[#lines + 1] = table.concat(f, ",")
  end
  return table.concat(lines, "\n") .. "\n"
end

--- Write a sample set or correlation results as CSV (temporary name, then renamed).
function M.write_csv(path, what, columns)
  local where = "tg.analysis.write_csv"
  util.check(type(path) == "string" and path ~= "", where, "expected a file path")
  if is_samples(what) then return write_text(path, what:csv(columns), where) end
  util.check(type(what) == "table", where, "expected a sample set or correlation results")
  return write_text(path, M.correlations_csv(what), where)
end

return M
