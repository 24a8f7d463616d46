"""The emoji service: descriptions -> emoji candidates and Genmoji-style stickers."""
