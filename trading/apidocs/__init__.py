"""The API's own description: the OpenAPI 3.1 document built from the routes, and its reference page."""
