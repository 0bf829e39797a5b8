"""Infrastructure shared by Vitawin services. Holds no domain type: what services share about
events lives in the JSON Schemas of `contracts/` only. The territory (`territory.py`: towns,
distances) is reference data that every service reads the same way, not a service's entity."""
