"""Services around the pure core: the witness and monitor applications, with their durable
state (SQLite), HTTP servers and HTTP clients. The core (``tocsin.tlog`` and friends) never
imports these."""
