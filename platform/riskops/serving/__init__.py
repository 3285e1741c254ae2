"""What the service needs from the library, without BentoML: each family's route
(:mod:`.route`), the payload primitives its requests are built from (:mod:`.payloads`) and the
errors a route answers with (:mod:`.errors`). ``services/`` wires them into BentoML."""
