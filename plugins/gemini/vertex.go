package gemini

import "slices"

// vertexGlobalHost is Vertex AI's global endpoint, the host of the "global" location.
const vertexGlobalHost = "aiplatform.googleapis.com"

// vertexLocations are the Vertex AI locations served at {location}-aiplatform.googleapis.com: the
// "Locational Endpoint" entries of the endpoints list in Google's aiplatform v1 discovery document.
var vertexLocations = []string{
	"africa-south1",
	"asia-east1", "asia-east2", "asia-northeast1", "asia-northeast2", "asia-northeast3",
	"asia-south1", "asia-south2", "asia-southeast1", "asia-southeast2",
	"australia-southeast1", "australia-southeast2",
	"europe-central2", "europe-north1", "europe-southwest1",
	"europe-west1", "europe-west2", "europe-west3", "europe-west4", "europe-west6", "europe-west8",
	"europe-west9", "europe-west12",
	"me-central1", "me-central2", "me-west1",
	"northamerica-northeast1", "northamerica-northeast2",
	"southamerica-east1", "southamerica-west1",
	"us-central1", "us-central2", "us-east1", "us-east4", "us-east5", "us-east7", "us-south1",
	"us-west1", "us-west2", "us-west3", "us-west4",
}

// VertexHosts returns the Vertex AI hosts the plugin's token may reach besides the upstream: the global
// endpoint and every regional {location}-aiplatform.googleapis.com, as exact host names (googleapis.com
// is on the public suffix list, so no wildcard under it is accepted).
func VertexHosts() []string {
	hosts := make([]string, 0, len(vertexLocations)+1)
	hosts = append(hosts, vertexGlobalHost)
	for _, l := range vertexLocations {
		hosts = append(hosts, l+"-"+vertexGlobalHost)
	}
	return hosts
}

// allowedHosts is what Info reports: the Vertex AI hosts, then the extra_hosts not already among them.
func allowedHosts(extra []string) []string {
	hosts := VertexHosts()
	for _, h := range extra {
		if !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return hosts
}
