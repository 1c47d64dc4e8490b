"""Between processes: the NATS doorbell, the edge's follower, the hand-over of writes, workers.

The store is the truth (``tocsin.feed``); a doorbell only says "event N is committed", so an
edge reads it from the store. Nothing here ever delivers what the store does not hold.
"""
