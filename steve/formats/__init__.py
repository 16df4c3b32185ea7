"""Steve's own date formats (FORMAT_MODULE_PATH), ahead of Django's for the locale."""
