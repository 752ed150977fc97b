package store

import "github.com/tokenhost/tokenhost/store/seal"

// NewSealedStore seals inner with keys, for tests in store_test that share one backend between hosts.
func NewSealedStore(inner Store, keys string) (Store, error) {
	kr, err := seal.ParseKeys(keys)
	if err != nil {
		return nil, err
	}
	return newSealedStore(inner, kr), nil
}
