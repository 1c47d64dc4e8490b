"""Shipped region data (Ukraine, KATOTTG); see NOTICE for sources and licences."""
