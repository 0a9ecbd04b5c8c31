-- # tortuga quickstart
--
-- A short tour on the built-in sample: generate a composite cathode, measure how much of each phase
-- it holds, look at its slices and gather the numbers in a table. Run the cells from the top; a cell
-- shows the value of its last line. Values live in globals, so later cells can use them.
--
-- The sample has 100³ voxels; set the environment variable `TORTUGA_NOTEBOOK_SIZE` before starting
-- Jupyter to try another size (the tests run this notebook on a small one).

-- %%
tg = require "tortuga"
SIZE = tonumber(os.getenv("TORTUGA_NOTEBOOK_SIZE")) or 100
PHASES = { "pore", "cam", "ise" }
LABEL = { pore = 0, cam = 1, ise = 2 }

-- %%
-- ## The sample
--
-- `tg.generate.cathode` builds a cold-pressed composite cathode as a label volume: pore = 0,
-- active material (CAM) = 1, solid electrolyte (ISE) = 2, with a spacing of 100 nm. A volume shows as
-- the picture of its middle slice, with its shape, type and spacing.

-- %%
labels = tg.generate.cathode { size = { SIZE, SIZE, SIZE }, seed = 1 }
labels

-- %%
-- ## Volume fractions
--
-- `tg.measure.fractions` counts the voxels of each label; the fractions add up to one.

-- %%
fractions = tg.measure.fractions(labels)
for _, name in ipairs(PHASES) do
  print(string.format("%-4s %6.2f %%", name, 100 * fractions[LABEL[name]]))
end

-- %%
-- ## Another slice
--
-- `tg.display` shows any value where the cell is; here the slice a quarter of the way through the
-- stack, along z (the milling direction of a FIB-SEM).

-- %%
tg.display(labels:slice(SIZE // 4 + 1))

-- %%
-- ## The numbers in a table
--
-- A list of records shows as a table, one row each; any other table as key | value rows.

-- %%
counts = labels:counts()
rows = {}
for _, name in ipairs(PHASES) do
  rows[#rows + 1] = { phase = name, label = LABEL[name], voxels = counts[LABEL[name]] or 0,
                      fraction = fractions[LABEL[name]] }
end
rows
