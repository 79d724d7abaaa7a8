// Swagger UI for /api/v1 (the bundle comes from node_modules, see siaga.web.assets).
window.ui = SwaggerUIBundle({ url: "/api/v1/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
