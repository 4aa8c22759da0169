"""Sources: reading city data (OSM files, footprint files, online queries) into raw frames.

Every reader returns a :class:`twin.city.model.RawCity`; :func:`twin.city.model.build_city`
turns any of them into the same :class:`~twin.city.model.CityModel`.
"""
