"""How a GraphQL document is run, apart from the types: documents (parsed and validated once
per text), expansion and cost (what a document may ask, priced before it runs), execution (the
short road for plain fields), core (graphql-core's schema, read in one place)."""
