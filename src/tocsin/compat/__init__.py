"""Adapters that let programs written for other alert APIs read Tocsin unchanged.

:mod:`tocsin.compat.alerts_in_ua` maps verified records to the alerts.in.ua
shapes (pure); :mod:`tocsin.compat.alerts_in_ua_routes` serves them over HTTP.
"""
