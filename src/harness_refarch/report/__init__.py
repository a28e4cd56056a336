"""What a run tells people: the report document (HTML, Markdown, JSON), root causes, SARIF and
CI annotations. Above the engine."""
