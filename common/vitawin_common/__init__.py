"""Infrastructure shared by Vitawin services. Holds no domain type: what services share about
events lives in the JSON Schemas of `contracts/` only."""
