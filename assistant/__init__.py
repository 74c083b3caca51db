"""Ask the Author: find the real answers book authors gave during DataTalks.Club's Book of the Week."""
