--- tortuga.nbformat — notebooks as text and as Jupyter's .ipynb.
--
-- The text form: Markdown in `--` comment lines, cells separated by `-- %%` lines (a chunk whose lines are all
-- comments is a Markdown cell; `-- %% [markdown]`, `-- %% [code]` and `-- %% [raw]` say it explicitly, as
-- jupytext's percent format does). It is a valid Lua script.
--
--   nbformat.read_notebook(text) --> {{cell_type = "markdown" | "code" | "raw", source = "text", line = n}, ...}
--       (line: the number of the source's first line in the text); an unknown cell tag raises
--   nbformat.write_notebook(cells) --> text
--   nbformat.to_ipynb(cells) --> the .ipynb (nbformat 4.5) JSON text, without outputs
--   nbformat.from_ipynb(text) --> cells | nil, reason (outputs are dropped)
--   nbformat.convert(from, to) --> true | nil, message: between the forms, by the file extensions
--   nbformat.write_atomic(path, bytes) --> true | nil, message: through a temporary name, renamed when complete
local json = require "tortuga.json"
local cjson = require "cjson"

local M = {}

M.NAME = "tortuga"
M.DISPLAY_NAME = "tortuga (Lua 5.4)"

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("a")
  f:close()
  return s
end

local HEADER = "^%-%- %%%%%s*$"
local TAGGED = "^%-%- %%%%%s*%[(%w+)%]%s*$"
local TAGS = { markdown = "markdown", md = "markdown", code = "code", raw = "raw" }

-- The lines without the blank ones at both ends, and how many were dropped at the start.
local function trim_blank(lines)
  local a, b = 1, #lines
  while a <= b and lines[a]:match("^%s*$") do a = a + 1 end
  while b >= a and lines[b]:match("^%s*$") do b = b - 1 end
  return table.move(lines, a, b, 1, {}), a - 1
end

local function all_comments(lines)
  if #lines == 0 then return false end
  for _, l in ipairs(lines) do
    if not (l:match("^%s*$") or l:match("^%-%-")) then return false end
  end
  return true
end

local function uncomment(lines)
  local out = {}
  for i, l in ipairs(lines) do out[i] = (l:gsub("^%-%- ?", "")) end
  return out
end

--- Parse the text form: a list of cells {cell_type = "markdown"|"code"|"raw", source = "text", line = n},
-- where line is the number of the source's first line in the text.
function M.read_notebook(text)
  local chunks, cur = {}, { lines = {}, header = false, first = 1 }
  local number = 0
  for line in (text:gsub("\r\n", "\n") .. "\n"):gmatch("(.-)\n") do
    number = number + 1
    local tag = line:match(TAGGED)
    if number == 1 and line:match("^#!") then
      line = nil
      cur.first = 2
    elseif tag or line:match(HEADER) then
      chunks[#chunks + 1] = cur
      cur = { lines = {}, header = true, tag = tag and tag:lower(), first = number + 1 }
      line = nil
    end
    if line then cur.lines[#cur.lines + 1] = line end
  end
  chunks[#chunks + 1] = cur
  local cells = {}
  for _, ch in ipairs(chunks) do
    local lines, skipped = trim_blank(ch.lines)
    if ch.tag and not TAGS[ch.tag] then
      error(string.format("notebook: unknown cell tag '[%s]' (expected markdown, code or raw)", ch.tag), 2)
    end
    local kind = ch.tag and TAGS[ch.tag] or (all_comments(lines) and "markdown" or "code")
    if ch.header or #lines > 0 then
      if kind ~= "code" then lines = uncomment(lines) end
      cells[#cells + 1] = { cell_type = kind, source = table.concat(lines, "\n"), line = ch.first + skipped }
    end
  end
  return cells
end

local function comment_lines(source)
  local out = {}
  for line in (source .. "\n"):gmatch("(.-)\n") do out[#out + 1] = line == "" and "--" or "-- " .. line end
  return out
end

--- The text form of a list of cells.
function M.write_notebook(cells)
  local out = {}
  for i, cell in ipairs(cells) do
    local src = cell.source or ""
    local lines, header
    if cell.cell_type == "markdown" then
      lines = comment_lines(src)
      header = src == "" and "-- %% [markdown]" or "-- %%"
    elseif cell.cell_type == "raw" then
      lines, header = comment_lines(src), "-- %% [raw]"
    else
      lines = {}
      for line in (src .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = line end
      lines = trim_blank(lines)
      header = (#lines > 0 and all_comments(lines)) and "-- %% [code]" or "-- %%"
    end
    if i > 1 then out[#out + 1] = "" end
    if not (i == 1 and header == "-- %%" and cell.cell_type == "markdown") then out[#out + 1] = header end
    for _, l in ipairs(lines) do out[#out + 1] = l end
  end
  return table.concat(out, "\n") .. "\n"
end

local function source_list(src)
  local list = {}
  for line in src:gmatch("[^\n]*\n?") do
    if line ~= "" then list[#list + 1] = line end
  end
  return #list > 0 and list or json.empty_array
end

--- The .ipynb (nbformat 4.5) JSON text of a list of cells, without outputs.
function M.to_ipynb(cells)
  local nb_cells = {}
  for i, cell in ipairs(cells) do
    local c = { cell_type = cell.cell_type, id = string.format("cell-%d", i), metadata = {},
                source = source_list(cell.source) }
    if cell.cell_type == "code" then c.execution_count, c.outputs = cjson.null, json.empty_array end
    nb_cells[i] = c
  end
  local nb = {
    cells = #nb_cells > 0 and nb_cells or json.empty_array,
    metadata = {
      kernelspec = { name = M.NAME, display_name = M.DISPLAY_NAME, language = "lua" },
      language_info = { name = "lua", version = _VERSION:match("%d+%.%d+"), mimetype = "text/x-lua",
                        file_extension = ".lua", pygments_lexer = "lua", codemirror_mode = "lua" },
    },
    nbformat = 4,
    nbformat_minor = 5,
  }
  return (json.encode(nb, { indent = 1 })) .. "\n"
end

--- The cells of an .ipynb JSON text (outputs are dropped); nil, reason when it is not a notebook.
function M.from_ipynb(text)
  local ok, nb = pcall(cjson.decode, text)
  if not ok or type(nb) ~= "table" then return nil, "not JSON: " .. tostring(nb) end
  if type(nb.nbformat) ~= "number" or nb.nbformat < 4 then -- (lua-cjson decodes every number as a float)
    return nil, "not an nbformat 4 notebook (nbformat = " .. tostring(nb.nbformat) .. ")"
  end
  if type(nb.cells) ~= "table" then return nil, "the notebook has no list of cells" end
  local cells = {}
  for i, c in ipairs(nb.cells) do
    if type(c) ~= "table" or not TAGS[c.cell_type] then
      return nil, string.format("cell %d has no known cell_type", i)
    end
    local src = c.source
    if type(src) == "table" then src = table.concat(src) end
    if type(src) ~= "string" then return nil, string.format("cell %d has no source text", i) end
    cells[#cells + 1] = { cell_type = c.cell_type, source = (src:gsub("\n$", "")) }
  end
  return cells
end

-- Write through a temporary name, renamed when complete: true or nil, message.
local function write_file(path, bytes)
  local tmp = path .. ".tmp"
  local f, err = io.open(tmp, "wb")
  if not f then return nil, err end
  local ok, werr = f:write(bytes)
  local cok, cerr = f:close()
  if not (ok and cok) then
    os.remove(tmp)
    return nil, tostring(werr or cerr)
  end
  local rok, rerr = os.rename(tmp, path)
  if not rok then
    os.remove(tmp)
    return nil, rerr
  end
  return true
end

M.write_atomic = write_file

--- Convert between the text form and .ipynb by the extensions; returns true or nil, message.
function M.convert(from, to)
  local function ext(p) return (p:match("%.(%w+)$") or ""):lower() end
  local a, b = ext(from), ext(to)
  if not ((a == "lua" and b == "ipynb") or (a == "ipynb" and b == "lua")) then
    return nil, string.format("expected FILE.lua FILE.ipynb or FILE.ipynb FILE.lua, got '%s' and '%s'", from, to)
  end
  local text, err = read_file(from)
  if not text then return nil, "cannot read " .. tostring(err) end
  local result
  if a == "lua" then
    local ok, cells = pcall(M.read_notebook, text)
    if not ok then return nil, from .. ": " .. tostring(cells):gsub("^[^:]*:%d+: ", "") end
    result = M.to_ipynb(cells)
  else
    local cells, why = M.from_ipynb(text)
    if not cells then return nil, from .. ": " .. why end
    result = M.write_notebook(cells)
  end
  local ok, werr = write_file(to, result)
  if not ok then return nil, "cannot write " .. to .. ": " .. tostring(werr) end
  return true
end

return M
