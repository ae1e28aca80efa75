package client

// InventoryOptions are the options of requests to the inventory service.
func InventoryOptions() Options {
	// The inventory service sometimes hangs: requests must give up.
	// Waiting forever is not an option.
	return WithTimeout(30)
}
