"""Reports that leadership and oversight read: HTML from Jinja2 templates, PDF through WeasyPrint."""
