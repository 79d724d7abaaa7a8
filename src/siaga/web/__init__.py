"""The HTTP side of siaga: one FastAPI app, routers registered in ``siaga.web.app.ROUTERS``."""
