package stats

// FetchBucketCount is how many buckets the token-fetch latency histogram has.
const FetchBucketCount = 14

// fetchBuckets are the histogram's upper bounds; FetchBuckets hands out copies.
var fetchBuckets = [FetchBucketCount]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// FetchBuckets returns the upper bounds, in seconds, of the buckets of core.Latency.Buckets. It returns
// an array, a copy the caller may change without changing anyone else's.
func FetchBuckets() [FetchBucketCount]float64 { return fetchBuckets }
