package postgres

// StorefrontOrdersPage is the query of one page of ReconcileStore.StorefrontOrders.
const StorefrontOrdersPage = storefrontOrdersPage
