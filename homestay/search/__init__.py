"""Tourist search and the staff's finder, answered from copies of the database held in each API
process: service (what a search asks and answers), index (the listed stays in columns), grid
(the map's cells), results (what a place and filters find), names (text over names), clusters
(the map's pins), keys and joined (ids and strings by slot), caught_up (a copy exact at every
use), finder (every homestay, for the staff)."""
