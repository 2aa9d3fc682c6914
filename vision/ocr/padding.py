"""How far text crops extend past their detected boxes, as shares of the box's (width, height).

One place for the reader that cuts the crops (`vision.reader.ReaderConfig`) and the text reader that locates a
plate's glyphs inside them (`vision.ocr.reader.TextReader`, the province cell): the two must agree.
"""

PLATE_PAD: tuple[float, float] = (0.08, 0.15)
NUMBER_PAD: tuple[float, float] = (0.04, 0.2)
