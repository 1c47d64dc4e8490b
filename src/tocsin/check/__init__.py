"""Is this warning real? Check a circulating message against the hub's log.

Public interface:

* :func:`tocsin.check.inputs.check_input` ``(checker, text) -> CheckResult``
* :class:`tocsin.check.engine.Checker` over the store's search history (:mod:`tocsin.check.index`)
* :func:`tocsin.check.denial.compose_denial` for an issuer's signed denial
* :func:`tocsin.check.normalise.normal_sha256`, the hash a denial names

No web framework here: the HTTP adapter is :mod:`tocsin.api.check_routes`.
See ``docs/check.md``.
"""
