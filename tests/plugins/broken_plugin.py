"""A plugin file that raises on import: jitscope must name this file and the error."""

raise RuntimeError("this plugin is deliberately broken")
