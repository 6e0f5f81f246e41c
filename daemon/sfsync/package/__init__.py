"""Turn a published self-hosting package into the deterministic ZIP pushed as a Static Resource.

Reading (`read`), deciding what the result holds (`settings`, `manifest`) and writing it
(`compress`, `zipwrite`) are kept apart; `build.build_package` ties them together. Nothing here
touches the network or the clock: the only I/O is reading the given package and the optional
`cache.DirectoryCompressionCache`.
"""
