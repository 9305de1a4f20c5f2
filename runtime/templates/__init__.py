"""Project templates of `edge new`: real files under files/<template>/, rendered for a name.

`catalog.py` finds the templates and their descriptions; `render.py` checks
the name, substitutes it into the files and writes the new app.
"""

from .catalog import FILES_DIR, Template, TemplateError, find_template, templates
from .render import Created, create_app, placeholders

__all__ = [
    "FILES_DIR",
    "Created",
    "Template",
    "TemplateError",
    "create_app",
    "find_template",
    "placeholders",
    "templates",
]
