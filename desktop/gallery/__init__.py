"""The gallery: the review queue as a paged list model, the virtualised grid and its tile
painter, the filter panel and the thumbnail loader."""
