-- A Pandoc custom reader (pandoc -f markdown-chapters.lua -t json): many Markdown texts
-- read by one Pandoc process, each exactly as `pandoc -f markdown
-- --shift-heading-level-by=<shift>` reads it on its own (haplo_report.render.markdown,
-- parse_many: starting Pandoc costs more than reading a chapter).
--
-- Input: a JSON list of {name, markdown, shift}. Each text is read separately (auto
-- identifiers, footnotes and reference links stay within it) with the reader options of
-- the command line, which Pandoc passes to a custom reader (72 columns, the abbreviations
-- data file). A shift >= 0 adds to every heading's level, wherever the heading is, as
-- --shift-heading-level-by does (headerShift in Pandoc's Transforms: the blocks are walked,
-- the metadata is not).
-- Output: a document whose metadata field "chapters" lists each text's {meta, blocks}.

function Reader(input, opts)
  local chapters = pandoc.List()
  for _, item in ipairs(pandoc.json.decode(tostring(input), false)) do
    local ok, doc = pcall(pandoc.read, item.markdown, 'markdown', opts)
    if not ok then
      error(item.name .. ': ' .. tostring(doc), 0)  -- names the text, not this script's line
    end
    local blocks = doc.blocks
    if item.shift ~= 0 then
      blocks = blocks:walk {
        Header = function (header)
          header.level = header.level + item.shift
          return header
        end
      }
    end
    chapters:insert(pandoc.MetaMap {
      meta = pandoc.MetaMap(doc.meta),
      blocks = pandoc.MetaBlocks(blocks),
    })
  end
  return pandoc.Pandoc({}, {chapters = chapters})
end
