"""Internal helpers every layer may use: serialisation (:mod:`.serialize`) and statistics (:mod:`.stats`)."""
