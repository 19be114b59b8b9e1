"""Open data: the Open Contracting Data Standard (OCDS 1.1) releases, records and bulk packages."""
