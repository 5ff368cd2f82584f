# Shortcuts for people who like make; each calls dev.py, which needs only Python and pip.
.PHONY: serve test bench schema
serve:
	python3 dev.py serve
test:
	python3 dev.py test
bench:
	python3 dev.py bench
schema:
	python3 dev.py schema
