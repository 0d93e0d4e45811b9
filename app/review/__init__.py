"""Label review without Qt: a session's frames and RGB partners, the mask tools (brush,
polygon, flood, temperature wand), what each gesture does, and the mask overlay image."""
