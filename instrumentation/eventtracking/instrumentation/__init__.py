"""Auto-instrumentation: a request context for every Django and Flask request, and the auto-setup.

``EventTrackingDjangoInstrumentor`` (``eventtracking.instrumentation.django``) and
``EventTrackingFlaskInstrumentor`` (``eventtracking.instrumentation.flask``) are OTel
instrumentors, registered as the ``opentelemetry_instrumentor`` entry points
``eventtracking_django`` and ``eventtracking_flask``, so ``opentelemetry-instrument`` applies
them with no code changes. What the context holds is described in
``eventtracking.instrumentation.request_context``, also as a registered context type
(``REQUEST_CONTEXT``), so events carry ``context_type_id``; ``eventtracking.instrumentation.distro``
sets up the rest under ``opentelemetry-instrument``.
"""
